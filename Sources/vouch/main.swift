import VouchCLI
await VouchCommand.main()
