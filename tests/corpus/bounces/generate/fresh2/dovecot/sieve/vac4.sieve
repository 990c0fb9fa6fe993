require "vacation";
vacation :days 1 :subject "不在のお知らせ" "申し訳ありませんが、12月20日まで不在にしております。急ぎの場合は代表番号までご連絡ください。";
