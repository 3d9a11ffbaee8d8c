// libFuzzer entry point for the NAR reader .
//
// Invariants checked on every input:
// 1. The decoder never traps, whatever the bytes.
// 2. The result (accepted, or the error code and offset) does not depend on how the input is
//    chunked: whole, split in two at a data-dependent point, and drip-fed in small pieces.
// 3. If the input is accepted, re-encoding the decoded events gives back exactly the input
//    (one canonical encoding per archive), and the reported size is the input's length.
import CLibFuzzer
import NixFormats

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Re-serialises decoder events as NAR bytes, independently of the library's writer.
struct Reencoder: NARVisitor {
    var out: [UInt8] = []

    init() { string(Array("nix-archive-1".utf8)) }

    mutating func string(_ bytes: [UInt8]) {
        header(UInt64(bytes.count))
        out += bytes
        out += [UInt8](repeating: 0, count: (8 - bytes.count % 8) % 8)
    }

    mutating func header(_ length: UInt64) {
        for shift in 0 ..< 8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(shift)))) }
    }

    mutating func tokens(_ items: String...) { for item in items { string(Array(item.utf8)) } }

    var pendingPadding = 0

    mutating func enterDirectory() { tokens("(", "type", "directory") }
    mutating func exitDirectory() { tokens(")") }
    mutating func enterEntry(name: [UInt8]) { tokens("entry", "(", "name"); string(name); tokens("node") }
    mutating func exitEntry() { tokens(")") }
    mutating func beginRegularFile(executable: Bool, size: UInt64) {
        tokens("(", "type", "regular")
        if executable { tokens("executable", "") }
        tokens("contents")
        header(size)
        pendingPadding = Int((8 - size % 8) % 8)
    }
    mutating func regularFileContents(_ chunk: UnsafeRawBufferPointer) { out += chunk }
    mutating func endRegularFile() {
        out += [UInt8](repeating: 0, count: pendingPadding)
        tokens(")")
    }
    mutating func symlink(target: [UInt8]) { tokens("(", "type", "symlink", "target"); string(target); tokens(")") }
}

enum Outcome: Equatable {
    case accepted([UInt8])
    case rejected(NARError.Code, UInt64)
}

func decode(_ bytes: UnsafeRawBufferPointer, chunks: [Int]) -> Outcome {
    var decoder = NARDecoder()
    var visitor = Reencoder()
    var position = 0
    var index = 0
    do {
        while position < bytes.count {
            let size = min(chunks[index % chunks.count], bytes.count - position)
            index += 1
            try decoder.decode(UnsafeRawBufferPointer(rebasing: bytes[position ..< position + size]), into: &visitor)
            position += size
        }
        try decoder.finish()
        return .accepted(visitor.out)
    } catch let error as NARError {
        return .rejected(error.code, error.offset)
    } catch {
        fatalError("unexpected error \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNARReader(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let whole = decode(bytes, chunks: [max(count, 1)])
    let split = count > 0 ? Int(bytes[count / 2]) % count + 1 : 1
    precondition(decode(bytes, chunks: [split, max(count, 1)]) == whole, "result depends on chunking (split \(split))")
    precondition(decode(bytes, chunks: [1, 7, 3, 8]) == whole, "result depends on chunking (drip)")
    let input = Array(bytes)
    let validated = try? NAR.validate(bytes: input)
    switch whole {
    case .accepted(let reencoded):
        precondition(reencoded == input, "accepted NAR does not re-encode to the same bytes")
        precondition(validated?.size == UInt64(count), "validate disagrees with the decoder")
    case .rejected:
        precondition(validated == nil, "validate accepted what the decoder rejected")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzNARReader(data, size) }
exit(status)
