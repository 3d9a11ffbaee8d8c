/// Nix's base-32 encoding ("nix32").
///
/// Not RFC 4648: the alphabet omits `e o u t`, and the bytes are read as one
/// little-endian integer printed most significant digit first. A string of
/// `encodedLength(n)` characters decodes to exactly `n` bytes; any carry past
/// the last byte is rejected, so every byte string has one encoding.
public enum NixBase32 {
    public static let alphabet: [UInt8] = Array("0123456789abcdfghijklmnpqrsvwxyz".utf8)

    private static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, char) in alphabet.enumerated() { table[Int(char)] = Int8(index) }
        return table
    }()

    /// True for a character of the nix32 alphabet.
    @inline(__always)
    public static func isDigit(_ char: UInt8) -> Bool { reverse[Int(char)] >= 0 }

    /// Characters needed for `byteCount` bytes: `ceil(8 * byteCount / 5)`.
    public static func encodedLength(_ byteCount: Int) -> Int {
        byteCount == 0 ? 0 : (byteCount * 8 - 1) / 5 + 1
    }

    /// Bytes encoded by a string of `length` characters, or nil if no byte count encodes to it.
    public static func decodedLength(_ length: Int) -> Int? {
        let bytes = length * 5 / 8
        return encodedLength(bytes) == length ? bytes : nil
    }

    public static func encode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let input = Array(bytes)
        let length = encodedLength(input.count)
        var output = [UInt8](repeating: 0, count: length)
        for k in 0..<length {
            let n = length - 1 - k
            let b = n * 5
            let i = b / 8
            let j = b % 8
            var value = Int(input[i]) >> j
            if i + 1 < input.count { value |= Int(input[i + 1]) << (8 - j) }
            output[k] = alphabet[value & 0x1f]
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes a nix32 string.
    /// - Returns: the bytes, or nil for a bad character, a length that encodes no byte
    ///   count, or a non-zero carry past the last byte.
    public static func decode<S: StringProtocol>(_ string: S) -> [UInt8]? {
        let chars = Array(string.utf8)
        guard let size = decodedLength(chars.count) else { return nil }
        var output = [UInt8](repeating: 0, count: size)
        for n in 0..<chars.count {
            let digit = reverse[Int(chars[chars.count - 1 - n])]
            guard digit >= 0 else { return nil }
            let b = n * 5
            let i = b / 8
            let j = b % 8
            output[i] |= UInt8(truncatingIfNeeded: Int(digit) << j)
            let carry = Int(digit) >> (8 - j)
            if i + 1 < size {
                output[i + 1] |= UInt8(truncatingIfNeeded: carry)
            } else if carry != 0 {
                return nil
            }
        }
        return output
    }
}
