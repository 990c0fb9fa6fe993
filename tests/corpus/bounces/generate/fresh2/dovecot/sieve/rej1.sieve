require "reject";
reject "Dieses Postfach wird nicht mehr gelesen. Bitte wenden Sie sich an info@kunde.example.de.";
