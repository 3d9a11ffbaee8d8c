import VouchVerify

/// The human-readable report: the closure as a tree from the target down to its inputs, each step
/// with its verdict, the signers counted and why it failed; then where the closure breaks.
///
/// Large closures (over ``smallClosure`` steps) draw only the failing paths: for each step where
/// the closure breaks, the shortest chain of failing steps from the target down to it, with counts
/// of the inputs left out; `--full` draws every step. A step reached again is not expanded twice.
struct ReportRenderer {
    let report: VerificationReport
    let full: Bool
    static let smallClosure = 200

    var text: String {
        var tree = Tree(report: report, showAll: full || report.steps.count <= Self.smallClosure)
        if !tree.showAll { tree.keepFailingPaths(to: report.lowestFailures.map(\.derivation), from: report.steps.last?.derivation) }
        if let target = report.steps.last?.derivation { tree.node(target, prefix: "", last: true, root: true) }
        var out = tree.out
        let failing = report.steps.filter { $0.status == .failed }
        out += "\n\(report.steps.count) steps: \(report.steps.count - failing.count) accepted, \(failing.count) failed"
        if !tree.showAll && !failing.isEmpty { out += " (only failing steps are drawn; --full draws all)" }
        out += "\n"
        if !report.lowestFailures.isEmpty {
            out += "the closure breaks at:\n"
            for step in report.lowestFailures { out += "  \(step.derivation): \(step.reason ?? "failed")\n" }
        }
        out += report.verified ? "VERIFIED \(report.target)\n" : "NOT VERIFIED \(report.target): \(Self.short(report.reason ?? "see above"))\n"
        return out
    }

    /// Draws the tree depth-first; each step is expanded at its first appearance only.
    struct Tree {
        let steps: [String: StepReport]
        let showAll: Bool
        var expanded: Set<String> = []
        var out = ""
        /// When drawing failing paths only: each drawn step's drawn inputs.
        var drawn: [String: [String]]?

        init(report: VerificationReport, showAll: Bool) {
            steps = Dictionary(report.steps.map { ($0.derivation, $0) }, uniquingKeysWith: { a, _ in a })
            self.showAll = showAll
        }

        /// Keeps, for each lowest failure, one shortest chain of failing steps from `root` to it.
        mutating func keepFailingPaths(to failures: [String], from root: String?) {
            guard let root else { return }
            var parent: [String: String] = [root: root]
            var queue = [root]
            var head = 0
            while head < queue.count {
                let path = queue[head]
                head += 1
                for input in steps[path]?.inputs ?? [] where parent[input] == nil && steps[input]?.status == .failed {
                    parent[input] = path
                    queue.append(input)
                }
            }
            var children: [String: [String]] = [:]
            var kept: Set<String> = [root]
            for failure in failures {
                var node = failure
                while let up = parent[node], !kept.contains(node) {
                    kept.insert(node)
                    children[up, default: []].append(node)
                    node = up
                }
            }
            drawn = children.mapValues { $0.sorted() }
        }

        mutating func node(_ path: String, prefix: String, last: Bool, root: Bool) {
            guard let step = steps[path] else { return }
            out += prefix + (root ? "" : last ? "└─ " : "├─ ")
            guard expanded.insert(path).inserted else {
                out += "\(step.status == .failed ? "✗" : "✓") \(step.name) (shown above)  \(step.derivation)\n"
                return
            }
            out += ReportRenderer.headline(step) + "\n"
            let inner = root ? "" : prefix + (last ? "   " : "│  ")
            let children = drawn.map { $0[path] ?? [] } ?? step.inputs.filter { showAll || steps[$0]?.status == .failed }
            let hidden = step.inputs.count - children.count
            let bar = children.isEmpty && hidden == 0 ? "   " : "│  "
            for line in ReportRenderer.details(step) { out += inner + bar + line + "\n" }
            for (i, child) in children.enumerated() {
                node(child, prefix: inner, last: i == children.count - 1 && hidden == 0, root: false)
            }
            if hidden > 0 {
                let failing = step.inputs.filter { steps[$0]?.status == .failed }.count - children.filter { steps[$0]?.status == .failed }.count
                let what = failing == 0 ? "accepted " : failing == hidden ? "failing " : ""
                out += inner + "└─ … \(hidden) \(what)input step\(hidden == 1 ? "" : "s") not drawn" + (failing > 0 && failing < hidden ? " (\(failing) failing)" : "") + "\n"
            }
        }
    }

    /// `✓ name [kind] signed by a, b` / `✗ name [kind]: why` — one line per step.
    static func headline(_ step: StepReport) -> String {
        var s: String
        switch step.status {
        case .verified: s = "✓ \(step.name) [\(step.kind)] signed by \(step.signers.joined(separator: ", "))"
        case .legacy: s = "✓ \(step.name) [\(step.kind)] legacy signature only (the closure ends here)"
        case .fixedOutput: s = "✓ \(step.name) [fixed-output] declared hash" + (step.signers.isEmpty ? "" : "; traces by \(step.signers.joined(separator: ", "))")
        case .failed: s = "✗ \(step.name) [\(step.kind)]"
            + (step.isLowestFailure ? " ← the closure breaks here" : step.reason.map { ": \(short($0))" } ?? "")
        }
        return s + "  \(step.derivation)"
    }

    /// A reason listing many input steps, shortened to their number.
    static func short(_ reason: String) -> String {
        guard reason.hasPrefix("input step"), let colon = reason.firstIndex(of: ":") else { return reason }
        let count = reason[colon...].split(separator: ",").count
        return count <= 3 ? reason : "\(count) input steps not verified"
    }

    /// Evidence lines under a step: divergent or failing outputs with their signers, rejected traces.
    static func details(_ step: StepReport) -> [String] {
        var lines: [String] = []
        for (name, contents) in step.outputs.sorted(by: { $0.key < $1.key }) where contents.count > 1 || step.status == .failed {
            for c in contents { lines.append("  \(name) = \(c.path) \(c.narHash ?? "") by {\(c.signers.joined(separator: ", "))}") }
        }
        if step.isLowestFailure, let reason = step.reason { lines.append("  why: \(reason)") }
        if step.status == .failed || step.isLowestFailure {
            for why in step.rejected.prefix(5) { lines.append("  rejected: \(why)") }
            if step.rejected.count > 5 { lines.append("  … \(step.rejected.count - 5) more rejected") }
        }
        return lines
    }
}
