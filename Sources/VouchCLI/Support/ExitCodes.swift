/// Exit statuses of `vouch`.
public enum ExitCodes {
    public static let success: Int32 = 0
    /// A signature, hash or policy check did not pass.
    public static let verificationFailed: Int32 = 1
    /// Bad usage or unreadable/malformed input.
    public static let badInput: Int32 = 2
}

/// Thrown by a command whose check ran and did not pass (exit 1).
struct VerificationFailed: Error {
    let message: String
}

/// A usage or input problem detected by the CLI itself (exit 2).
struct CLIError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
    init(_ message: String) { self.message = message }
}
