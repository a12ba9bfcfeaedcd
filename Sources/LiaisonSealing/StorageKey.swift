internal import Crypto
internal import Foundation

/// The node's key for payloads at rest (DESIGN §6): AES-256-GCM, one fresh
/// random nonce per payload, the item id as associated data so that a
/// payload copied onto another item's row does not open. The key lives in
/// the node's data directory (mode 0600), never in the database.
///
/// A sealed payload is `version ‖ key id (8) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`;
/// the key id says which storage key sealed it, so a store opened with the
/// wrong key refuses instead of reporting corruption.
public struct StorageKey: Sendable {
    let key: SymmetricKey
    /// The first 8 bytes of SHA-256 over the key: names the key, reveals nothing.
    public let keyID: [UInt8]

    static let version: UInt8 = 1
    static let overhead = 1 + 8 + 12 + 16
    static let context = Array("liaison at-rest payload v1".utf8)

    /// A new random key.
    public static func generate() -> StorageKey { StorageKey(key: SymmetricKey(size: .bits256)) }

    /// The key from its 32 secret bytes.
    public init(secretBytes: [UInt8]) throws(SealingError) {
        guard secretBytes.count == 32 else {
            throw SealingError(.invalidKey, "a storage key is 32 bytes, not \(secretBytes.count)")
        }
        self.init(key: SymmetricKey(data: secretBytes))
    }

    init(key: SymmetricKey) {
        self.key = key
        keyID = Array(key.withUnsafeBytes { SHA256.bytes($0) }.prefix(8))
    }

    public var secretBytes: [UInt8] { key.withUnsafeBytes { Array($0) } }

    func aad(_ itemID: [UInt8]) -> [UInt8] { Self.context + itemID }

    /// Encrypts `payload` for storage under item `itemID`.
    public func seal(_ payload: [UInt8], itemID: [UInt8]) -> [UInt8] {
        // AES-GCM with a random 96-bit nonce cannot fail for these inputs.
        seal(payload, itemID: itemID, nonce: AES.GCM.Nonce())
    }

    /// Encrypts a batch of payloads, drawing all their nonces from the
    /// system's random source in one call.
    public func seal(_ payloads: [[UInt8]], itemIDs: [[UInt8]]) -> [[UInt8]] {
        precondition(payloads.count == itemIDs.count)
        guard !payloads.isEmpty else { return [] }
        let random = SecureRandom.bytes(12 * payloads.count)
        return payloads.indices.map { n in
            let nonce = try! AES.GCM.Nonce(data: random[(n * 12)..<(n * 12 + 12)])
            return seal(payloads[n], itemID: itemIDs[n], nonce: nonce)
        }
    }

    func seal(_ payload: [UInt8], itemID: [UInt8], nonce: AES.GCM.Nonce) -> [UInt8] {
        let box = try! AES.GCM.seal(payload, using: key, nonce: nonce, authenticating: aad(itemID))
        var out: [UInt8] = []
        out.reserveCapacity(Self.overhead + payload.count)
        out.append(Self.version)
        out.append(contentsOf: keyID)
        box.combined!.withUnsafeBytes { out.append(contentsOf: $0) }  // nonce ‖ ciphertext ‖ tag; a 12-byte nonce always combines
        return out
    }

    /// Decrypts what ``seal(_:itemID:)`` produced for the same item.
    public func open(_ sealed: [UInt8], itemID: [UInt8]) throws(SealingError) -> [UInt8] {
        guard sealed.count >= Self.overhead, sealed[0] == Self.version else {
            throw SealingError(.malformed, "a stored payload is not in the at-rest format")
        }
        guard Array(sealed[1..<9]) == keyID else {
            throw SealingError(.wrongRecipient, "the payload was stored under another storage key (\(Hex.encode(sealed[1..<9])), this node's is \(Hex.encode(keyID)))")
        }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: sealed[9..<21]), ciphertext: sealed[21..<(sealed.count - 16)], tag: sealed[(sealed.count - 16)...])
            return Array(try AES.GCM.open(box, using: key, authenticating: aad(itemID)))
        } catch {
            throw SealingError(.decryptionFailed, "the stored payload of item \(Hex.encode(itemID)) does not open: it was altered or moved")
        }
    }
}
