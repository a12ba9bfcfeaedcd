internal import Crypto
public import Foundation
public import LiaisonModel
public import LiaisonSealing
internal import SwiftASN1
internal import X509

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// A node's data directory: its private keys (mode 0600, in `keys/`, mode
/// 0700), its TLS certificates and its public identity (`identity.der`,
/// published to the other parties, whose agreements pin its fingerprints).
public struct NodeDirectory: Sendable {
    public let path: String
    public var keys: String { path + "/keys" }

    public init(path: String) { self.path = path }

    /// A node loaded from its directory.
    public struct Node: Sendable {
        public let party: Party
        public let signing: SigningKey
        public let decryption: DecryptionKey
        public let identity: NodeIdentity
    }

    static func pemType(_ suite: CryptoSuite, _ what: String) -> String { "LIAISON \(suite.rawValue.uppercased()) \(what) KEY" }

    /// Creates the keys, certificates and identity of a new node for
    /// `party`; refuses a directory that already holds keys.
    public func initialize(party: Party, suite: CryptoSuite, hosts: [String], now: Date) throws(AppError) -> NodeIdentity {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: keys) else {
            throw AppError(.invalidArgument, "\(keys) already exists; a node's keys are never overwritten")
        }
        do {
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            try fm.createDirectory(atPath: keys, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw AppError(.unreadableFile, "cannot create \(keys): \(error.localizedDescription)")
        }
        let signing: SigningKey, decryption: DecryptionKey, certificates: NodeCertificates
        do {
            signing = try SigningKey.generate(suite)
            decryption = try DecryptionKey.generate(suite)
            certificates = try NodeCertificates.issue(party: party, hosts: hosts, now: now)
        } catch {
            throw AppError(.invalidArgument, "cannot generate keys: \(error)")
        }
        let identity = NodeIdentity(
            party: party, signingKey: signing.verifyingKey, encryptionKey: decryption.encryptionKey,
            rootCertificate: NodeCertificates.der(certificates.root), nodeCertificate: NodeCertificates.der(certificates.node))
        try Self.writeSecret(keys + "/signing.pem", PEMDocument(type: Self.pemType(suite, "SIGNING"), derBytes: signing.secretBytes).pemString)
        try Self.writeSecret(keys + "/decryption.pem", PEMDocument(type: Self.pemType(suite, "DECRYPTION"), derBytes: decryption.secretBytes).pemString)
        try Self.writeSecret(keys + "/tls-root-ca.key.pem", certificates.rootKey.pemRepresentation)
        try Self.writeSecret(keys + "/tls-node.key.pem", certificates.nodeKey.pemRepresentation)
        _ = try storageKey()
        try Self.writePublic(path + "/tls-root-ca.pem", Data((try! certificates.root.serializeAsPEM().pemString + "\n").utf8))
        try Self.writePublic(path + "/tls-node.pem", Data((try! certificates.node.serializeAsPEM().pemString + "\n").utf8))
        try Self.writePublic(path + "/identity.der", Data(identity.derBytes))
        try Self.writePublic(path + "/anchors.yaml", Data(Self.anchorsYAML(identity).utf8))
        return identity
    }

    /// Rotates the node's signing and decryption keys: new keys, a
    /// ``KeyRotation`` signed by the old and the new signing key (written to
    /// `rotations/`, to give the other parties), both keys valid from `now`
    /// for `overlapDays`, the old keys kept under `keys/retired/`.
    public func rotate(overlapDays: Int, now: Date) throws(AppError) -> KeyRotation {
        guard (1...365).contains(overlapDays) else {
            throw AppError(.invalidArgument, "--overlap-days \(overlapDays): between 1 and 365 days")
        }
        let node = try load()
        let suite = node.identity.signingKey.suite
        let signing: SigningKey, decryption: DecryptionKey, rotation: KeyRotation
        do {
            signing = try SigningKey.generate(suite)
            decryption = try DecryptionKey.generate(suite)
            rotation = try KeyRotation(
                party: node.party, from: node.signing, to: signing, newEncryptionKey: decryption.encryptionKey, validFrom: now,
                oldValidUntil: now.addingTimeInterval(Double(overlapDays) * 86_400))
        } catch {
            throw AppError(.invalidArgument, "cannot generate keys: \(error)")
        }
        let stamp = RFC3339.format(now).replacingOccurrences(of: ":", with: "")
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: keys + "/retired", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try fm.createDirectory(atPath: path + "/rotations", withIntermediateDirectories: true)
        } catch {
            throw AppError(.unreadableFile, "cannot create \(keys)/retired: \(error.localizedDescription)")
        }
        try Self.writePublic(path + "/rotations/\(stamp).der", Data(rotation.derBytes))
        for name in ["signing.pem", "decryption.pem"] {
            do {
                try fm.moveItem(atPath: keys + "/" + name, toPath: keys + "/retired/\(stamp)-" + name)
            } catch {
                throw AppError(.unreadableFile, "cannot retire \(keys)/\(name): \(error.localizedDescription)")
            }
        }
        try Self.writeSecret(keys + "/signing.pem", PEMDocument(type: Self.pemType(suite, "SIGNING"), derBytes: signing.secretBytes).pemString)
        try Self.writeSecret(keys + "/decryption.pem", PEMDocument(type: Self.pemType(suite, "DECRYPTION"), derBytes: decryption.secretBytes).pemString)
        let identity = NodeIdentity(
            party: node.party, signingKey: signing.verifyingKey, encryptionKey: decryption.encryptionKey,
            rootCertificate: node.identity.rootCertificate, nodeCertificate: node.identity.nodeCertificate)
        try Self.replacePublic(path + "/identity.der", Data(identity.derBytes))
        try Self.replacePublic(path + "/anchors.yaml", Data(Self.anchorsYAML(identity).utf8))
        return rotation
    }

    /// Replaces a public file atomically (write a temporary file, rename).
    static func replacePublic(_ file: String, _ data: Data) throws(AppError) {
        let temporary = file + ".new"
        try? FileManager.default.removeItem(atPath: temporary)
        try write(temporary, data, mode: 0o644)
        guard rename(temporary, file) == 0 else {
            throw AppError(.unreadableFile, "cannot replace \(file): \(String(cString: strerror(errno)))")
        }
    }

    /// The `trust_anchors` an agreement lists for this node.
    public static func anchorsYAML(_ identity: NodeIdentity) -> String {
        var out = "# Pin these in every agreement's entry for \(identity.party):\n- party: \(identity.party)\n  trust_anchors:\n"
        for a in identity.anchors { out += "    - {kind: \(a.kind), fingerprint: \"\(a.fingerprint)\"}\n" }
        return out
    }

    /// The keys this node has signed its tree heads with: the current
    /// signing key and every retired one. `nil` for a directory without a
    /// node identity (a bare store).
    public func ledgerTrust() throws(AppError) -> TrustStore? {
        guard FileManager.default.fileExists(atPath: path + "/identity.der") else { return nil }
        let identity: NodeIdentity
        do { identity = try NodeIdentity(canonical: try Self.read(path + "/identity.der", secret: false)) } catch let e as AppError {
            throw e
        } catch {
            throw AppError(.invalidDocument, "\(path)/identity.der: \(error)")
        }
        var trust = TrustStore()
        trust.pin(identity.signingKey, of: identity.party)
        let suite = identity.signingKey.suite
        let retired = ((try? FileManager.default.contentsOfDirectory(atPath: keys + "/retired")) ?? []).filter { $0.hasSuffix("-signing.pem") }
        for file in retired.sorted() {
            do {
                let key = try SigningKey(suite: suite, secretBytes: try Self.pem(keys + "/retired/" + file, type: Self.pemType(suite, "SIGNING")))
                trust.pin(key.verifyingKey, of: identity.party)
            } catch let e as AppError {
                throw e
            } catch {
                throw AppError(.invalidDocument, "\(keys)/retired/\(file): \(error)")
            }
        }
        return trust
    }

    static let storageKeyType = "LIAISON STORAGE KEY"

    /// The key the node's payloads are encrypted with at rest
    /// (`keys/storage.pem`, mode 0600), created the first time it is asked
    /// for (a node initialised before the key existed gets one then).
    public func storageKey() throws(AppError) -> StorageKey {
        let file = keys + "/storage.pem"
        if !FileManager.default.fileExists(atPath: file) {
            let key = StorageKey.generate()
            try Self.writeSecret(file, PEMDocument(type: Self.storageKeyType, derBytes: key.secretBytes).pemString)
        }
        do { return try StorageKey(secretBytes: try Self.pem(file, type: Self.storageKeyType)) } catch let e as AppError {
            throw e
        } catch {
            throw AppError(.invalidDocument, "\(file): \(error)")
        }
    }

    /// The node's TLS certificate and key (PEM).
    public func tlsCredentials() throws(AppError) -> (certificate: String, key: String) {
        let certificate = try Self.read(path + "/tls-node.pem", secret: false)
        let key = try Self.read(keys + "/tls-node.key.pem", secret: true)
        return (String(decoding: certificate, as: UTF8.self), String(decoding: key, as: UTF8.self))
    }

    /// Loads the node, refusing key files that others may read or write.
    public func load() throws(AppError) -> Node {
        let identityBytes = try Self.read(path + "/identity.der", secret: false)
        let identity: NodeIdentity
        do { identity = try NodeIdentity(canonical: identityBytes) } catch {
            throw AppError(.invalidDocument, "\(path)/identity.der: \(error.reason)")
        }
        let suite = identity.signingKey.suite
        let signing: SigningKey, decryption: DecryptionKey
        do {
            signing = try SigningKey(suite: suite, secretBytes: try Self.pem(keys + "/signing.pem", type: Self.pemType(suite, "SIGNING")))
            decryption = try DecryptionKey(
                suite: suite, secretBytes: try Self.pem(keys + "/decryption.pem", type: Self.pemType(suite, "DECRYPTION")))
        } catch let e as AppError {
            throw e
        } catch let e as SealingError {
            throw AppError(.invalidDocument, "\(keys): \(e.reason)")
        } catch {
            throw AppError(.invalidDocument, "\(keys): \(error)")
        }
        guard signing.verifyingKey == identity.signingKey, decryption.encryptionKey == identity.encryptionKey else {
            throw AppError(.invalidDocument, "the keys in \(keys) do not match \(path)/identity.der")
        }
        _ = try Self.read(keys + "/tls-root-ca.key.pem", secret: true)
        _ = try Self.read(keys + "/tls-node.key.pem", secret: true)
        return Node(party: identity.party, signing: signing, decryption: decryption, identity: identity)
    }

    static func pem(_ file: String, type: String) throws(AppError) -> [UInt8] {
        let bytes = try read(file, secret: true)
        do {
            let doc = try PEMDocument(pemString: String(decoding: bytes, as: UTF8.self))
            guard doc.discriminator == type else {
                throw AppError(.invalidDocument, "\(file): a \(doc.discriminator), expected a \(type)")
            }
            return doc.derBytes
        } catch let e as AppError {
            throw e
        } catch {
            throw AppError(.invalidDocument, "\(file): not a PEM document")
        }
    }

    /// Reads a file; a secret one must be a regular file with mode 0600 or stricter.
    static func read(_ file: String, secret: Bool) throws(AppError) -> [UInt8] {
        // attributesOfItem does not follow symbolic links: a link is refused.
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file) else {
            throw AppError(.unreadableFile, "\(file): no such file")
        }
        guard attributes[.type] as? FileAttributeType == .typeRegular else {
            throw AppError(.unreadableFile, "\(file): not a regular file")
        }
        let mode = (attributes[.posixPermissions] as? Int) ?? 0o777
        if secret, mode & 0o077 != 0 {
            throw AppError(
                .insecureKeyFile, "\(file) has mode \(String(mode, radix: 8)); private keys must be 0600 (chmod 600 \(file))")
        }
        guard let data = FileManager.default.contents(atPath: file) else { throw AppError(.unreadableFile, "\(file): cannot be read") }
        return Array(data)
    }

    /// Creates `file` with mode 0600 from the start (no window in which it is
    /// readable by others) and syncs it; never overwrites.
    static func writeSecret(_ file: String, _ text: String) throws(AppError) {
        try write(file, Data(text.utf8), mode: 0o600)
    }

    static func writePublic(_ file: String, _ data: Data) throws(AppError) { try write(file, data, mode: 0o644) }

    static func write(_ file: String, _ data: Data, mode: mode_t) throws(AppError) {
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw AppError(.unreadableFile, "cannot create \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else {
            throw AppError(.unreadableFile, "cannot write \(file): \(String(cString: strerror(errno)))")
        }
    }
}
