import Hummingbird

/// Refuses, with `400`, request paths that try to leave the cache's namespace: a `.` or `..`
/// segment (also percent-encoded), an encoded `/`, `\` or NUL, or an empty segment inside the
/// path. Runs before routing, so such a path never reaches a handler or the blob store.
struct PathSafetyMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let problem = Self.problem(in: request.uri.path) {
            throw ServerError.badRequest("refused path '\(request.uri.path)': \(problem)")
        }
        return try await next(request, context)
    }

    /// What is wrong with `path`, or nil if it is safe. Allocates nothing for ordinary paths.
    static func problem(in path: String) -> String? {
        var path = path
        return path.withUTF8 { bytes -> String? in
            var start = 0
            var index = 0
            var isFirst = true
            while index <= bytes.count {
                if index == bytes.count || bytes[index] == UInt8(ascii: "/") {
                    let segment = UnsafeBufferPointer(rebasing: bytes[start ..< index])
                    if let problem = check(segment, isFirst: isFirst, isLast: index == bytes.count) { return problem }
                    isFirst = false
                    start = index + 1
                } else if bytes[index] == 0 || bytes[index] == UInt8(ascii: "\\") {
                    return "backslash or NUL in path"
                }
                index += 1
            }
            return nil
        }
    }

    private static func check(_ segment: UnsafeBufferPointer<UInt8>, isFirst: Bool, isLast: Bool) -> String? {
        if segment.isEmpty {
            // "" before the leading slash, and a trailing slash, are harmless.
            return isFirst || isLast ? nil : "empty path segment"
        }
        guard segment.contains(UInt8(ascii: "%")) || segment.count <= 2 else { return nil }
        guard let decoded = PercentDecoding.decode(Substring(decoding: segment, as: UTF8.self)) else { return "malformed percent-encoding" }
        if decoded == "." || decoded == ".." { return "'.' and '..' segments are not allowed" }
        if decoded.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") || $0 == 0 }) {
            return "encoded '/', '\\' or NUL in a path segment"
        }
        return nil
    }
}
