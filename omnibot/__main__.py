from omnibot.entrypoints.cli import main

main()
