require ["vacation"];
vacation :days 1 :from "Maria Lopez <maria@cliente.example.es>" :subject "Respuesta automatica: fuera de la oficina" "Estoy de vacaciones hasta el 8 de enero.";
