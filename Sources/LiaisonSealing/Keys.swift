public import Crypto
public import Foundation
public import LiaisonModel
public import SwiftASN1

extension CryptoSuite {
    var wireValue: Int {
        switch self {
        case .hybridPQ: 1
        case .classic: 2
        }
    }
    static func fromWire(_ v: Int) throws(SealingError) -> CryptoSuite {
        switch v {
        case 1: return .hybridPQ
        case 2: return .classic
        default: throw SealingError(.unknownSuite, "suite \(v) is not known to this node")
        }
    }
}

/// A node's private signing key: Ed25519 *and* ML-DSA-65 (`hybrid-pq`,
/// both required to verify), or ECDSA P-384 (`classic`). The public half
/// and its key id are derived once (deriving an ML-DSA public key from its
/// seed is not cheap).
public struct SigningKey: Sendable {
    enum Material: Sendable {
        case hybrid(ed25519: Curve25519.Signing.PrivateKey, mldsa: MLDSA65.PrivateKey)
        case classic(P384.Signing.PrivateKey)
    }

    let material: Material
    public let verifyingKey: VerifyingKey
    let keyID: [UInt8]

    init(_ material: Material) {
        self.material = material
        switch material {
        case .hybrid(let e, let m):
            verifyingKey = VerifyingKey(
                suite: .hybridPQ, parts: [Array(e.publicKey.rawRepresentation), Array(m.publicKey.rawRepresentation)])
        case .classic(let p):
            verifyingKey = VerifyingKey(suite: .classic, parts: [Array(p.publicKey.x963Representation)])
        }
        keyID = verifyingKey.keyID
    }

    /// A fresh key of `suite`.
    public static func generate(_ suite: CryptoSuite) throws -> SigningKey {
        switch suite {
        case .hybridPQ: SigningKey(.hybrid(ed25519: Curve25519.Signing.PrivateKey(), mldsa: try MLDSA65.PrivateKey()))
        case .classic: SigningKey(.classic(P384.Signing.PrivateKey()))
        }
    }

    public var suite: CryptoSuite { verifyingKey.suite }

    /// The private key as seeds (Ed25519 seed ‖ ML-DSA seed, or the P-384 scalar).
    public var secretBytes: [UInt8] {
        switch material {
        case .hybrid(let e, let m): Array(e.rawRepresentation) + Array(m.seedRepresentation)
        case .classic(let p): Array(p.rawRepresentation)
        }
    }

    public init(suite: CryptoSuite, secretBytes b: [UInt8]) throws(SealingError) {
        do {
            switch suite {
            case .hybridPQ:
                guard b.count == 64 else { throw SealingError(.invalidKey, "a hybrid signing key is 64 bytes of seeds") }
                self.init(
                    .hybrid(
                        ed25519: try Curve25519.Signing.PrivateKey(rawRepresentation: b[0..<32]),
                        mldsa: try MLDSA65.PrivateKey(seedRepresentation: b[32..<64], publicKey: nil)))
            case .classic:
                self.init(.classic(try P384.Signing.PrivateKey(rawRepresentation: b)))
            }
        } catch let e as SealingError {
            throw e
        } catch {
            throw SealingError(.invalidKey, "the signing key cannot be read: \(error)")
        }
    }

    /// Signs `message` in the domain `structure`: every signature covers
    /// `"liaison/v1/" + structure + 0x00 + message`, so a signature over one
    /// kind of structure never verifies as another.
    public func sign(_ message: some DataProtocol, structure: String) throws -> Signature {
        let input = Signature.signingInput(message, structure: structure)
        switch material {
        case .hybrid(let e, let m):
            return Signature(
                keyID: keyID, suite: .hybridPQ, parts: [Array(try e.signature(for: input)), Array(try m.signature(for: input))])
        case .classic(let p):
            return Signature(keyID: keyID, suite: .classic, parts: [Array(try p.signature(for: input).rawRepresentation)])
        }
    }
}

/// A public signing key: the Ed25519 and ML-DSA-65 public keys, or the P-384
/// one. Its key id is the SHA-256 of its DER encoding; trust anchors pin it
/// as `sha256:<hex>`.
public struct VerifyingKey: Hashable, Sendable, CanonicalValue {
    public static let structureName = "VerifyingKey"
    public var suite: CryptoSuite
    public var parts: [[UInt8]]

    public init(suite: CryptoSuite, parts: [[UInt8]]) {
        self.suite = suite
        self.parts = parts
    }

    static func partSizes(_ suite: CryptoSuite) -> [Int] {
        switch suite {
        case .hybridPQ: [32, 1952]
        case .classic: [97]
        }
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion)
            s.enumerated(suite.wireValue)
            for p in parts { s.octets(p) }
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let suite = try CryptoSuite.fromWire(try r.enumerated(in: 0...255))
            let parts = try Self.partSizes(suite).map { try r.octets(count: $0) }
            let key = VerifyingKey(suite: suite, parts: parts)
            try key.validate()
            return key
        }
    }

    /// Refuses bytes that are not a point or key of the suite.
    func validate() throws(SealingError) { _ = try ParsedVerifyingKey(self) }

    /// SHA-256 of the DER encoding.
    public var keyID: [UInt8] { SHA256.bytes(derBytes) }
    /// The form trust anchors pin: `sha256:` and 64 hex digits.
    public var fingerprint: String { "sha256:" + Hex.encode(keyID) }

    /// Whether `signature` is a valid signature by this key over `message`
    /// in the domain `structure`; throws the specific failure otherwise.
    public func verify(_ signature: Signature, over message: some DataProtocol, structure: String) throws(SealingError) {
        try ParsedVerifyingKey(self).verify(signature, over: message, structure: structure)
    }
}

/// A verifying key with its public keys parsed once (parsing an ML-DSA-65
/// key expands its matrix; a trust store keeps these for its pinned keys).
struct ParsedVerifyingKey: Sendable {
    let key: VerifyingKey
    let keyID: [UInt8]
    let ed25519: Curve25519.Signing.PublicKey?
    let mldsa: MLDSA65.PublicKey?
    let p384: P384.Signing.PublicKey?

    init(_ key: VerifyingKey) throws(SealingError) {
        self.key = key
        keyID = key.keyID
        do {
            switch key.suite {
            case .hybridPQ:
                guard key.parts.count == 2 else { throw SealingError(.invalidKey, "a hybrid-pq key has two parts") }
                ed25519 = try Curve25519.Signing.PublicKey(rawRepresentation: key.parts[0])
                mldsa = try MLDSA65.PublicKey(rawRepresentation: key.parts[1])
                p384 = nil
            case .classic:
                guard key.parts.count == 1 else { throw SealingError(.invalidKey, "a classic key has one part") }
                p384 = try P384.Signing.PublicKey(x963Representation: key.parts[0])
                ed25519 = nil
                mldsa = nil
            }
        } catch let e as SealingError {
            throw e
        } catch {
            throw SealingError(.invalidKey, "the \(key.suite.rawValue) public key is not valid: \(error)")
        }
    }

    func verify(_ signature: Signature, over message: some DataProtocol, structure: String) throws(SealingError) {
        guard signature.keyID == keyID else {
            throw SealingError(.wrongSigner, "\(structure) is signed by key \(Hex.encode(signature.keyID.prefix(8)))…, not \(Hex.encode(keyID.prefix(8)))…")
        }
        guard signature.suite == key.suite else {
            throw SealingError(.suiteMismatch, "\(structure) carries a \(signature.suite.rawValue) signature; the key is \(key.suite.rawValue)")
        }
        let input = Signature.signingInput(message, structure: structure)
        switch key.suite {
        case .hybridPQ:
            guard signature.parts.count == 2, !signature.parts[0].isEmpty, !signature.parts[1].isEmpty else {
                throw SealingError(.signatureMissing, "\(structure): a hybrid-pq signature needs both Ed25519 and ML-DSA-65")
            }
            guard let e = ed25519, e.isValidSignature(signature.parts[0], for: input) else {
                throw SealingError(.signatureInvalid, "\(structure): the Ed25519 signature does not verify")
            }
            guard let m = mldsa, m.isValidSignature(signature.parts[1], for: input) else {
                throw SealingError(.signatureInvalid, "\(structure): the ML-DSA-65 signature does not verify")
            }
        case .classic:
            guard signature.parts.count == 1, !signature.parts[0].isEmpty else {
                throw SealingError(.signatureMissing, "\(structure): the ECDSA P-384 signature is missing")
            }
            guard let k = p384, let sig = try? P384.Signing.ECDSASignature(rawRepresentation: signature.parts[0]),
                k.isValidSignature(sig, for: input)
            else { throw SealingError(.signatureInvalid, "\(structure): the ECDSA P-384 signature does not verify") }
        }
    }
}

/// A signature by one key: its key id, its suite and its parts (Ed25519 and
/// ML-DSA-65 for `hybrid-pq`, ECDSA P-384 r‖s for `classic`).
public struct Signature: Hashable, Sendable, CanonicalValue {
    public static let structureName = "Signature"
    public var keyID: [UInt8]
    public var suite: CryptoSuite
    public var parts: [[UInt8]]

    public init(keyID: [UInt8], suite: CryptoSuite, parts: [[UInt8]]) {
        self.keyID = keyID
        self.suite = suite
        self.parts = parts
    }

    static func signingInput(_ message: some DataProtocol, structure: String) -> Data {
        var d = Data("liaison/v1/\(structure)".utf8)
        d.append(0)
        d.append(contentsOf: message)
        return d
    }

    static func partSizes(_ suite: CryptoSuite) -> [Int] {
        switch suite {
        case .hybridPQ: [64, 3309]
        case .classic: [96]
        }
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.octets(keyID)
            s.enumerated(suite.wireValue)
            s.sequence { p in for part in parts { p.octets(part) } }
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            let keyID = try r.octets(count: 32)
            let suite = try CryptoSuite.fromWire(try r.enumerated(in: 0...255))
            let sizes = Self.partSizes(suite)
            let parts: [[UInt8]] = try r.sequence { p in
                var out: [[UInt8]] = []
                while p.hasMore {
                    guard out.count < sizes.count else { throw p.fail("too many signature parts") }
                    out.append(try p.octets(count: sizes[out.count]))
                }
                return out
            }
            return Signature(keyID: keyID, suite: suite, parts: parts)
        }
    }
}

/// A node's private decryption key: X-Wing (ML-KEM-768 + X25519) for
/// `hybrid-pq`, P-384 for `classic`, used through HPKE.
public enum DecryptionKey: Sendable {
    case xwing(XWingMLKEM768X25519.PrivateKey)
    case p384(P384.KeyAgreement.PrivateKey)

    public static func generate(_ suite: CryptoSuite) throws -> DecryptionKey {
        switch suite {
        case .hybridPQ: .xwing(try XWingMLKEM768X25519.PrivateKey())
        case .classic: .p384(P384.KeyAgreement.PrivateKey())
        }
    }

    public var suite: CryptoSuite {
        switch self {
        case .xwing: .hybridPQ
        case .p384: .classic
        }
    }

    public var encryptionKey: EncryptionKey {
        switch self {
        case .xwing(let k): EncryptionKey(suite: .hybridPQ, bytes: Array(k.publicKey.rawRepresentation))
        case .p384(let k): EncryptionKey(suite: .classic, bytes: Array(k.publicKey.x963Representation))
        }
    }

    public var secretBytes: [UInt8] {
        switch self {
        case .xwing(let k): Array(k.seedRepresentation)
        case .p384(let k): Array(k.rawRepresentation)
        }
    }

    public init(suite: CryptoSuite, secretBytes b: [UInt8]) throws(SealingError) {
        do {
            switch suite {
            case .hybridPQ: self = .xwing(try XWingMLKEM768X25519.PrivateKey(seedRepresentation: b, publicKey: nil))
            case .classic: self = .p384(try P384.KeyAgreement.PrivateKey(rawRepresentation: b))
            }
        } catch {
            throw SealingError(.invalidKey, "the decryption key cannot be read: \(error)")
        }
    }

    var ciphersuite: HPKE.Ciphersuite {
        switch self {
        case .xwing: .XWingMLKEM768X25519_SHA256_AES_GCM_256
        case .p384: .P384_SHA384_AES_GCM_256
        }
    }
}

/// A node's public encryption key (HPKE recipient key).
public struct EncryptionKey: Hashable, Sendable, CanonicalValue {
    public static let structureName = "EncryptionKey"
    public var suite: CryptoSuite
    public var bytes: [UInt8]

    public init(suite: CryptoSuite, bytes: [UInt8]) {
        self.suite = suite
        self.bytes = bytes
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion)
            s.enumerated(suite.wireValue)
            s.octets(bytes)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let suite = try CryptoSuite.fromWire(try r.enumerated(in: 0...255))
            let bytes = try r.octets(count: suite == .hybridPQ ? 1216 : 97)
            let key = EncryptionKey(suite: suite, bytes: bytes)
            _ = try key.hpkeSender(info: [])
            return key
        }
    }

    public var fingerprint: String { "sha256:" + Hex.encode(SHA256.hash(data: derBytes)) }

    func hpkeSender(info: [UInt8]) throws(SealingError) -> HPKE.Sender {
        do {
            switch suite {
            case .hybridPQ:
                return try HPKE.Sender(
                    recipientKey: try XWingMLKEM768X25519.PublicKey(rawRepresentation: bytes),
                    ciphersuite: .XWingMLKEM768X25519_SHA256_AES_GCM_256, info: Data(info))
            case .classic:
                return try HPKE.Sender(
                    recipientKey: try P384.KeyAgreement.PublicKey(x963Representation: bytes),
                    ciphersuite: .P384_SHA384_AES_GCM_256, info: Data(info))
            }
        } catch {
            throw SealingError(.invalidKey, "the \(suite.rawValue) encryption key is not valid: \(error)")
        }
    }
}
