public import Crypto
public import Foundation
public import LiaisonModel
internal import SwiftASN1
public import X509

/// A party's TLS root CA and its node's certificate (mutual TLS 1.3 between
/// nodes, DESIGN §4). P-384 for both, whatever the agreement's suite: these
/// certificates authenticate the transport; what is exchanged is signed
/// with the suite's keys.
public struct NodeCertificates: Sendable {
    public let rootKey: P384.Signing.PrivateKey
    public let root: Certificate
    public let nodeKey: P384.Signing.PrivateKey
    public let node: Certificate

    /// Issues a root CA valid ten years and a node certificate valid two
    /// years from `now`, the node's names in its subject alternative names.
    public static func issue(party: Party, hosts: [String], now: Date) throws -> NodeCertificates {
        let rootKey = P384.Signing.PrivateKey()
        let nodeKey = P384.Signing.PrivateKey()
        let rootName = try DistinguishedName {
            OrganizationName("Liaison \(party)")
            CommonName("Liaison \(party) root CA")
        }
        let notBefore = now.addingTimeInterval(-3600)
        let root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey), notValidBefore: notBefore,
            notValidAfter: now.addingTimeInterval(10 * 365.25 * 86_400), issuer: rootName, subject: rootName,
            signatureAlgorithm: .ecdsaWithSHA384,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(rootKey))
        var names: [GeneralName] = []
        for host in hosts {
            if let ip = IPv4(host) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ip))))
            } else {
                names.append(.dnsName(host))
            }
        }
        let node = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(nodeKey.publicKey), notValidBefore: notBefore,
            notValidAfter: now.addingTimeInterval(2 * 365.25 * 86_400), issuer: rootName,
            subject: try DistinguishedName {
                OrganizationName("Liaison \(party)")
                CommonName("Liaison \(party) node")
            },
            signatureAlgorithm: .ecdsaWithSHA384,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(rootKey))
        return NodeCertificates(rootKey: rootKey, root: root, nodeKey: nodeKey, node: node)
    }

    /// Dotted IPv4 text to its four bytes.
    static func IPv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let bytes = parts.compactMap { UInt8($0) }
        return bytes.count == 4 ? bytes : nil
    }

    public static func der(_ certificate: Certificate) -> [UInt8] {
        var s = DER.Serializer()
        try! s.serialize(certificate)
        return s.serializedBytes
    }
}
