require ["reject","envelope"];
if envelope :domain "from" "desk.example.com" { reject "Mail from your help desk is refused by the recipient's filter."; }
