// libFuzzer differential target for `Ed25519VerifyingKey` (NixFormats' prepared-key verifier, our
// own C code): for every key, signature and message it must give the verdict of swift-crypto's
// `Curve25519.Signing.PublicKey.isValidSignature` (BoringSSL), which it replaces in `vouch verify`.
//
// The first input byte picks how the rest becomes a case:
//   0 raw:         key (32) ‖ signature (64) ‖ message, zero-padded: mostly undecodable keys and
//                  invalid signatures;
//   1 signed:      signer, mutation, position ‖ message: one of four fixed keys signs the message,
//                  then a bit of R, S, the key or the message flips, S becomes S + L, or another
//                  signer's key is used;
//   2 small order: key, multiple ‖ message: a key of small order or with a non-canonical encoding,
//                  and R = [S]B, so the signature is valid exactly when [k]A is the identity.
import CLibFuzzer
import Crypto
import NixFormats

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let groupOrder: [UInt8] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]

/// Little-endian a + b (or a − b), modulo 2^256.
func add(_ a: [UInt8], _ b: [UInt8], subtract: Bool = false) -> [UInt8] {
    var out = a
    var carry = 0
    for i in 0..<32 {
        let sum = Int(a[i]) + (subtract ? -Int(b[i]) : Int(b[i])) + carry
        out[i] = UInt8(truncatingIfNeeded: sum)
        carry = sum >> 8
    }
    return out
}

/// The Ed25519 secret scalar of a seed, reduced mod L: [scalar]B is the seed's public key.
func secretScalar(_ seed: [UInt8]) -> [UInt8] {
    var a = Array(SHA512.hash(data: seed).prefix(32))
    a[0] &= 248
    a[31] = (a[31] & 127) | 64
    while !a.reversed().lexicographicallyPrecedes(groupOrder.reversed()) { a = add(a, groupOrder, subtract: true) }
    return a
}

let seeds = (1...4).map { [UInt8](repeating: UInt8($0), count: 32) }
let signers = seeds.map { try! Curve25519.Signing.PrivateKey(rawRepresentation: $0) }
let signerKeys = signers.map { Array($0.publicKey.rawRepresentation) }

/// (R, S) with R = [S]B: the base point with S = 1, and each signer's public key with its scalar.
let knownMultiples = [([0x58] + [UInt8](repeating: 0x66, count: 31), [1] + [UInt8](repeating: 0, count: 31))]
    + zip(signerKeys, seeds.map(secretScalar)).map { ($0, $1) }

/// The eight points of small order, x = 0 with the sign bit set, and y = p + i for i < 19 with either sign.
let specialKeys: [[UInt8]] = {
    func key(_ low: [UInt8], fill: UInt8, top: UInt8) -> [UInt8] { low + [UInt8](repeating: fill, count: 31 - low.count) + [top] }
    let order8a: [UInt8] = [0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
                            0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a]
    let order8b: [UInt8] = [0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
                            0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05]
    var keys: [[UInt8]] = [order8a, order8b]
    for sign: UInt8 in [0, 0x80] {
        keys.append(key([1], fill: 0, top: sign))  // identity
        keys.append(key([0], fill: 0, top: sign))  // order 4
        keys.append(key([0xec], fill: 0xff, top: 0x7f | sign))  // order 2
        for i: UInt8 in 0..<19 { keys.append(key([0xed + i], fill: 0xff, top: 0x7f | sign)) }
    }
    keys.append(Array(order8a.dropLast()) + [order8a[31] ^ 0x80])
    keys.append(Array(order8b.dropLast()) + [order8b[31] ^ 0x80])
    return keys
}()

nonisolated(unsafe) var prepared: [[UInt8]: Ed25519VerifyingKey?] = [:]
nonisolated(unsafe) var verdicts = (accepted: 0, rejected: 0)

func check(_ key: [UInt8], _ signature: [UInt8], _ message: [UInt8]) {
    let reference = (try? Curve25519.Signing.PublicKey(rawRepresentation: key))?.isValidSignature(signature, for: message) ?? false
    if prepared.count > 512 { prepared.removeAll() }
    if prepared[key] == nil { prepared[key] = .some(Ed25519VerifyingKey(rawRepresentation: key)) }
    let ours = prepared[key]!?.isValidSignature(signature, for: message) ?? false
    if reference { verdicts.accepted += 1 } else { verdicts.rejected += 1 }
    func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
    precondition(ours == reference, "Ed25519VerifyingKey says \(ours), swift-crypto \(reference): key \(hex(key)) signature \(hex(signature)) message \(hex(message))")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEd25519(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: start, count: count))
    guard let mode = input.first else { return 0 }
    var rest = Array(input.dropFirst())
    switch mode % 3 {
    case 0:
        rest += [UInt8](repeating: 0, count: max(0, 96 - rest.count))
        check(Array(rest[0..<32]), Array(rest[32..<96]), Array(rest[96...]))
    case 1:
        rest += [UInt8](repeating: 0, count: max(0, 3 - rest.count))
        let (who, mutation, position) = (Int(rest[0]) % signers.count, rest[1], Int(rest[2]))
        var message = Array(rest[3...])
        var key = signerKeys[who]
        var signature = Array(try! signers[who].signature(for: message))
        switch mutation % 6 {
        case 1: signature[position % 64] ^= 1 << (mutation / 6 % 8)
        case 2: key[position % 32] ^= 1 << (mutation / 6 % 8)
        case 3: if !message.isEmpty { message[position % message.count] ^= 1 << (mutation / 6 % 8) }
        case 4: signature = Array(signature[..<32]) + add(Array(signature[32...]), groupOrder)
        case 5: key = signerKeys[(who + 1 + position) % signers.count]
        default: break
        }
        check(key, signature, message)
    default:
        rest += [UInt8](repeating: 0, count: max(0, 2 - rest.count))
        let (r, s) = knownMultiples[Int(rest[1]) % knownMultiples.count]
        check(specialKeys[Int(rest[0]) % specialKeys.count], r + s, Array(rest[2...]))
    }
    return 0
}

atexit { print("FuzzEd25519: \(verdicts.accepted) accepted, \(verdicts.rejected) rejected, all as swift-crypto") }
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzEd25519(data, size) }
exit(status)
