from hpcast.cli import main

main()
