require "vacation";
vacation :days 1 :subject "Abwesenheitsnotiz" "Vielen Dank fuer Ihre Nachricht. Ich bin bis zum 4. Januar nicht im Buero. In dringenden Faellen wenden Sie sich bitte an meine Kollegin.";
