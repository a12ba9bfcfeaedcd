internal import Crypto
public import Foundation
public import LiaisonModel
public import LiaisonSealing
public import NIOSSL
internal import SwiftASN1
public import X509

/// The TLS side of a node's peer links (DESIGN §4): its own certificate and
/// key, and each peer party's root CA, accepted only if an agreement pins
/// its fingerprint (`root-ca` trust anchor) — never from a message
/// (invariant 7).
public struct PeerTLS: Sendable {
    public let certificate: NIOSSLCertificate
    public let privateKey: NIOSSLPrivateKey
    /// Pinned root CA of each peer party.
    public let roots: [Party: Certificate]

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String)
        case unpinned(String)
        public var description: String {
            switch self {
            case .unreadable(let s), .unpinned(let s): s
            }
        }
    }

    /// `identities`: the peers' published identities, whose root
    /// certificates the agreements must pin.
    public init(certificatePEM: String, keyPEM: String, identities: [NodeIdentity], agreements: [Agreement]) throws(Failure) {
        do {
            certificate = try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem)
            privateKey = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        } catch {
            throw .unreadable("the node's TLS certificate or key does not load: \(error)")
        }
        var roots: [Party: Certificate] = [:]
        for id in identities {
            let fingerprint = "sha256:" + Hex.encode(SHA256.hash(data: id.rootCertificate))
            let pinned = agreements.contains { a in
                a.parties.contains { $0.party == id.party && $0.trustAnchors.contains(TrustAnchor(kind: "root-ca", fingerprint: fingerprint)) }
            }
            guard pinned else { throw .unpinned("the TLS root CA \(fingerprint) of \(id.party) is not pinned by any agreement") }
            let root: Certificate
            do { root = try Certificate(derEncoded: id.rootCertificate) } catch {
                throw .unreadable("the TLS root CA of \(id.party) does not parse: \(error)")
            }
            // One root, one party: a certificate must name its peer unambiguously.
            if let other = roots.first(where: { $0.value == root || $0.value.subject == root.subject })?.key {
                throw .unpinned("\(id.party) and \(other) have the same TLS root CA (or its name); each party needs its own")
            }
            roots[id.party] = root
        }
        self.roots = roots
    }

    /// The server side: TLS 1.3 only, a client certificate required (its
    /// chain is checked by ``PeerVerifier``).
    public func serverConfiguration() -> TLSConfiguration {
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(privateKey))
        c.minimumTLSVersion = .tlsv13
        c.certificateVerification = .noHostnameVerification
        c.trustRoots = .certificates(roots.values.compactMap { try? NIOSSLCertificate(bytes: NodeCertificates.der($0), format: .der) })
        c.sendCANameList = true
        return c
    }

    /// The operator surfaces' server side: this node's certificate, TLS 1.2
    /// or later (browsers), no client certificate (operators log in).
    public func operatorConfiguration() -> TLSConfiguration {
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(privateKey))
        c.minimumTLSVersion = .tlsv12
        c.certificateVerification = .none
        return c
    }

    /// The client side towards one peer: TLS 1.3, this node's certificate,
    /// and only that peer's pinned root trusted.
    public func clientConfiguration(for peer: Party) throws(Failure) -> TLSConfiguration {
        guard let root = roots[peer], let rootCertificate = try? NIOSSLCertificate(bytes: NodeCertificates.der(root), format: .der) else {
            throw .unpinned("no TLS root CA is pinned for \(peer)")
        }
        var c = TLSConfiguration.makeClientConfiguration()
        c.minimumTLSVersion = .tlsv13
        c.certificateChain = [.certificate(certificate)]
        c.privateKey = .privateKey(privateKey)
        c.trustRoots = .certificates([rootCertificate])
        c.certificateVerification = .fullVerification
        return c
    }
}

/// Decides at the handshake which party a client certificate proves: the
/// one whose pinned root it chains to (RFC 5280 path validation at the
/// present instant, so an expired certificate fails), among the parties
/// with which this node has an agreement in force now. Anything else fails
/// the handshake.
public struct PeerVerifier: Sendable {
    let roots: [Party: Certificate]
    /// The parties this node may exchange with at an instant.
    let parties: @Sendable (Date) -> Set<Party>
    let clock: @Sendable () -> Date
    /// Leaves already found signed by a pinned root, by their DER bytes:
    /// a connection presents the same leaf on every request, and the
    /// signature check (ECDSA P-384, about half a millisecond) need not be
    /// made again. Whether that party may exchange now is asked every time.
    private let issuers = BoundedMemo<[UInt8], Party?>(limit: 256)

    public init(roots: [Party: Certificate], parties: @escaping @Sendable (Date) -> Set<Party>, clock: @escaping @Sendable () -> Date) {
        (self.roots, self.parties, self.clock) = (roots, parties, clock)
    }

    public enum Verdict: Sendable, Equatable {
        case peer(Party)
        case refused(String)
    }

    public func verify(_ presented: [Certificate]) async -> Verdict {
        guard let leaf = presented.first else { return .refused("no client certificate") }
        let now = clock()
        let allowed = parties(now)
        var reasons: [String] = []
        for (party, root) in roots.sorted(by: { $0.key.code < $1.key.code }) where allowed.contains(party) {
            // Validity is checked against the present instant (the handshake happens now).
            var verifier = Verifier(rootCertificates: CertificateStore([root])) { RFC5280Policy() }
            switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(presented.dropFirst())) {
            case .validCertificate: return .peer(party)
            case .couldNotValidate(let failures):
                if leaf.issuer == root.subject { reasons.append("\(party): \(failures.map(\.policyFailureReason.description).joined(separator: "; "))") }
            }
        }
        if reasons.isEmpty {
            return .refused("the certificate of \(leaf.subject) chains to no root pinned for a party with an agreement in force")
        }
        return .refused(reasons.joined(separator: " | "))
    }

    /// The party of a leaf verified at the handshake, as the connection
    /// presents it (DER): the one pinned root (each party has its own) that
    /// issued and signed it, found once per leaf (a leaf two roots would
    /// sign has none), answered only while that party has an agreement in
    /// force now.
    public func party(ofDER der: [UInt8]) -> Party? {
        let issuer: Party?
        if let known = issuers[der] {
            issuer = known
        } else {
            guard let leaf = try? Certificate(derEncoded: der) else { return nil }
            let matches = roots.filter { $0.value.subject == leaf.issuer && $0.value.publicKey.isValidSignature(leaf.signature, for: leaf) }
            issuer = matches.count == 1 ? matches.first!.key : nil
            issuers.keep(issuer, for: der)
        }
        guard let issuer, parties(clock()).contains(issuer) else { return nil }
        return issuer
    }
}
