import VouchCLI
VouchCommand.prepareProcess()
await VouchCommand.main()
