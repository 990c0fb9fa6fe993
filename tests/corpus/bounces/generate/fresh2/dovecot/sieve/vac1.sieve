require "vacation";
vacation :days 1 :subject "Out of office" "I am away until 14 December without access to mail. For urgent matters please call the front desk.";
