/// Standard base64 (RFC 4648 §4) with `=` padding, the form Nix uses for keys,
/// signatures and SRI hashes. Decoding is canonical: padding is required, and
/// unused bits in the last character must be zero.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, char) in alphabet.enumerated() { table[Int(char)] = Int8(index) }
        return table
    }()

    /// Length of the padded encoding of `byteCount` bytes.
    public static func encodedLength(_ byteCount: Int) -> Int { (byteCount + 2) / 3 * 4 }

    public static func encode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let input = Array(bytes)
        var output = [UInt8]()
        output.reserveCapacity(encodedLength(input.count))
        var index = 0
        while index + 3 <= input.count {
            let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(alphabet[Int(value >> 18 & 63)])
            output.append(alphabet[Int(value >> 12 & 63)])
            output.append(alphabet[Int(value >> 6 & 63)])
            output.append(alphabet[Int(value & 63)])
            index += 3
        }
        let rest = input.count - index
        if rest == 1 {
            let value = UInt32(input[index]) << 16
            output.append(alphabet[Int(value >> 18 & 63)])
            output.append(alphabet[Int(value >> 12 & 63)])
            output.append(UInt8(ascii: "="))
            output.append(UInt8(ascii: "="))
        } else if rest == 2 {
            let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            output.append(alphabet[Int(value >> 18 & 63)])
            output.append(alphabet[Int(value >> 12 & 63)])
            output.append(alphabet[Int(value >> 6 & 63)])
            output.append(UInt8(ascii: "="))
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes padded base64.
    /// - Returns: nil for a length that is not a multiple of 4, a foreign character,
    ///   misplaced padding or non-zero trailing bits.
    public static func decode<S: StringProtocol>(_ string: S) -> [UInt8]? {
        var utf8 = Array(string.utf8)
        return utf8.withUnsafeMutableBufferPointer { decode(UnsafeBufferPointer($0)) }
    }

    /// Decodes padded base64 from bytes (same rules as the string form).
    public static func decode(_ chars: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard chars.count % 4 == 0 else { return nil }
        if chars.isEmpty { return [] }
        var padding = 0
        if chars[chars.count - 1] == UInt8(ascii: "=") { padding += 1 }
        if chars[chars.count - 2] == UInt8(ascii: "=") { padding += 1 }
        let outCount = chars.count / 4 * 3 - padding
        var failed = false
        let output = [UInt8](unsafeUninitializedCapacity: outCount) { out, count in
            var o = 0
            var index = 0
            while index < chars.count {
                let last = index + 4 == chars.count
                var word: UInt32 = 0
                for k in 0..<4 {
                    let c = chars[index + k]
                    let v: Int8
                    if c == UInt8(ascii: "=") {
                        guard last, k >= 4 - padding else { failed = true; count = 0; return }
                        v = 0
                    } else {
                        v = reverse[Int(c)]
                        guard v >= 0, !(last && k >= 4 - padding) else { failed = true; count = 0; return }
                    }
                    word = word << 6 | UInt32(v)
                }
                let take = last ? 3 - padding : 3
                if last && padding == 2 && word & 0xffff != 0 { failed = true; count = 0; return }
                if last && padding == 1 && word & 0xff != 0 { failed = true; count = 0; return }
                for t in 0..<take { out[o] = UInt8(truncatingIfNeeded: word >> (16 - 8 * UInt32(t))); o += 1 }
                index += 4
            }
            count = o
        }
        return failed ? nil : output
    }
}
