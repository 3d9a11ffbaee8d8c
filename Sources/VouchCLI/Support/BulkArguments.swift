/// swift-argument-parser's parsing time grows quadratically with the number of arguments, so
/// `vouch drv path $(nix-store -qR …)` over 10,000 files would spend seconds parsing. For long
/// argument lists the trailing positional arguments are split off before parsing and handed to
/// commands that take a variadic file list (``BulkCapable``); other commands parse everything.
enum BulkArguments {
    /// Arguments beyond which the tail is split off.
    static let threshold = 64

    /// Set once in `VouchCommand.run(arguments:)` before the command runs; read by the command
    /// on the same task. Never accessed concurrently.
    nonisolated(unsafe) static var tail: [String] = []

    /// Splits `arguments` into a head that still contains every option and a tail of plain operands.
    static func split(_ arguments: [String]) -> (head: [String], tail: [String]) {
        guard arguments.count > threshold else { return (arguments, []) }
        if let end = arguments.firstIndex(of: "--") {
            return (Array(arguments[...end]) + Array(arguments[(end + 1)...].prefix(1)), Array(arguments[(end + 1)...].dropFirst()))
        }
        let lastOption = arguments.lastIndex { $0.hasPrefix("-") } ?? -1
        let keep = min(arguments.count, max(lastOption + 3, 4))
        return (Array(arguments[..<keep]), Array(arguments[keep...]))
    }
}

/// A command whose last argument is a variadic list of plain operands.
protocol BulkCapable {}

extension Array where Element == String {
    /// These operands plus any split off by ``BulkArguments``.
    var withBulkTail: [String] { self + BulkArguments.tail }
}
