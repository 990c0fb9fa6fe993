require "vacation";
vacation :days 1 "Je suis absente jusqu'au 21 decembre. Votre message ne sera pas transfere.";
