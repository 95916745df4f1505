import StormCLI

await StormCLI.run()
