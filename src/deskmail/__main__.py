from deskmail.entry import run

run()
