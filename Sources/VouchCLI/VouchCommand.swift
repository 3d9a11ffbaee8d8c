import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// The `vouch` command line.
public struct VouchCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "vouch",
        abstract: "Verifiable, non-transitive build provenance for Nix.",
        version: "0.1.0",
        subcommands: [NARCommand.self, DrvCommand.self, HashCommand.self, StorePathCommand.self, KeyCommand.self,
                      NARInfoCommand.self, RealisationCommand.self, SignCommand.self, TraceCommand.self, VerifyCommand.self, ServeCommand.self]
    )

    public init() {}

    /// Process-wide setup, before any other thread starts: `verify` re-executes itself once with
    /// malloc tuned for large graphs (``MallocTuning``).
    public static func prepareProcess() {
        if CommandLine.arguments.dropFirst().first == "verify" { MallocTuning.reexecuteWithTunables() }
    }

    /// Runs the CLI and exits: 0 success, 1 verification failed, 2 usage or input error.
    public static func main() async {
        let code = await run(arguments: Array(CommandLine.arguments.dropFirst()))
        Output.flush()
        Glibc.exit(code)
    }

    /// Parses and runs `arguments`, printing errors as one line on stderr.
    public static func run(arguments: [String]) async -> Int32 {
        do {
            let (head, tail) = BulkArguments.split(arguments)
            var command = try parseAsRoot(head)
            if !tail.isEmpty {
                if command is any BulkCapable {
                    BulkArguments.tail = tail
                } else {
                    command = try parseAsRoot(arguments)
                }
            }
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
            return 0
        } catch let failure as VerificationFailed {
            Output.error(failure.message)
            return ExitCodes.verificationFailed
        } catch let code as ExitCode {
            return code.rawValue
        } catch let error as CLIError {
            Output.error(error.message)
            return ExitCodes.badInput
        } catch {
            let exitCode = self.exitCode(for: error)
            if exitCode == .success {
                Output.out(fullMessage(for: error) + "\n")
                return 0
            }
            if isDomainError(error) {
                Output.error("\(error)")
            } else {
                Output.error(message(for: error) + " (see 'vouch help')")
            }
            return ExitCodes.badInput
        }
    }

    private static func isDomainError(_ error: any Error) -> Bool {
        !(error is ValidationError) && ["NixFormats.", "VouchTrace.", "VouchVerify."].contains { String(reflecting: type(of: error)).hasPrefix($0) }
            || error is POSIXFailure
    }
}
