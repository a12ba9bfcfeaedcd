internal import LiaisonApp
public import LiaisonModel
public import LiaisonSealing

/// Keys for test nodes, made once per process (ML-DSA key generation is
/// not free), and agreements that pin them.
public struct TestNode: Sendable {
    public var party: Party
    public var signing: SigningKey
    public var decryption: DecryptionKey

    public init(party: Party, suite: CryptoSuite = .hybridPQ) {
        self.party = party
        signing = try! SigningKey.generate(suite)
        decryption = try! DecryptionKey.generate(suite)
    }

    public var identity: NodeIdentity {
        NodeIdentity(
            party: party, signingKey: signing.verifyingKey, encryptionKey: decryption.encryptionKey,
            rootCertificate: Array("root-\(party)".utf8), nodeCertificate: Array("node-\(party)".utf8))
    }
}

public enum Nodes {
    public static let kor = TestNode(party: .kor)
    public static let jpn = TestNode(party: .jpn)
    public static let usa = TestNode(party: .usa)
    public static let all = [kor, jpn, usa]

    /// An agreement with every test node's anchors pinned.
    public static func pinned(_ a: Agreement, nodes: [TestNode] = all) -> Agreement {
        var a = a
        for i in a.parties.indices {
            if let n = nodes.first(where: { $0.party == a.parties[i].party }) { a.parties[i].trustAnchors = n.identity.anchors }
        }
        return a
    }

    /// The example set with every test node pinned.
    public static var book: AgreementBook {
        AgreementBook(
            Fixtures.examples.agreements.values.map {
                AgreementLifecycle(agreement: pinned($0), statements: Fixtures.statements($0.id))
            })
    }

    public static func trust(_ book: AgreementBook = book, nodes: [TestNode] = all) -> TrustStore {
        try! TrustStore(agreements: book.lifecycles.values.map(\.agreement), identities: nodes.map(\.identity))
    }

    public static func opener(for node: TestNode, book: AgreementBook = book) -> EnvelopeOpener {
        EnvelopeOpener(me: node.party, decryptionKey: node.decryption, trust: trust(book), book: book)
    }
}
