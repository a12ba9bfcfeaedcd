public import Foundation
public import LiaisonApp
public import LiaisonModel
internal import LiaisonStorePostgres

/// Test support: the shipped example set, instants, labels and readers.
public enum Fixtures {
    /// The repository's `Examples/` folder.
    public static let examplesDirectory: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Examples").path

    /// The real KOR/JPN/USA set, loaded once.
    public static let examples: ExampleSet = {
        do { return try ExampleSet(directory: examplesDirectory) } catch { fatalError("Examples/ must load: \(error)") }
    }()

    public static func agreement(_ id: Agreement.ID) -> Agreement { examples.agreements[id]! }
    /// The shipped statements of an example agreement.
    public static func statements(_ id: Agreement.ID) -> [LifecycleStatement] { examples.statements[id]! }
    /// The lifecycles of every example agreement, as shipped.
    public static var book: AgreementBook { examples.book() }
    /// The example book with one agreement's statements replaced.
    public static func book(replacing: [Agreement.ID: [LifecycleStatement]]) -> AgreementBook {
        examples.book(replacing: replacing)
    }
    public static var kj: Agreement { agreement("gsomia-kor-jpn-2016") }
    public static var tisa: Agreement { agreement("tisa-2014") }
    public static func scheme(_ p: Party) -> ClassificationScheme {
        examples.agreements.values.lazy.compactMap { $0.scheme(of: p) }.first!
    }

    /// A strict RFC 3339 instant; traps on a typo in a test.
    public static func at(_ text: String) -> Date {
        guard let d = RFC3339.parse(text) else { fatalError("bad instant in a test: \(text)") }
        return d
    }

    public static func item(
        originator: Party = .kor, level: String = "II", releasableTo: Set<Party> = [.jpn, .usa],
        categories: [LiaisonModel.Category] = [], purpose: String? = "dprk-nuclear-missile",
        created: String = "2017-09-06T09:00:00+09:00", digest: String = String(repeating: "ab", count: 32)
    ) -> ItemFacts {
        let label = try! SecurityLabel(
            policy: "national:\(originator)", originator: originator, level: level, releasableTo: releasableTo,
            categories: categories, purpose: purpose, created: at(created))
        return ItemFacts(digest: digest, label: label)
    }

    public static func consent(
        for item: ItemFacts, holder: Party = .usa, thirdParty: Party = .jpn, purpose: String? = "dprk-nuclear-missile",
        issued: String = "2019-01-01T00:00:00Z", expires: String = "2030-01-01T00:00:00Z", originator: Party? = nil
    ) -> Consent {
        Consent(
            id: "consent-\(holder)-\(thirdParty)", originator: originator ?? item.label.originator,
            itemDigest: item.digest, holder: holder, thirdParty: thirdParty, purpose: purpose, issuedAt: at(issued),
            expiresAt: at(expires))
    }

    /// A minimal valid agreement between two parties with inline schemes,
    /// for tests that mutate one field at a time.
    public static let minimalAgreementYAML = """
        id: test-agreement
        title: Test agreement
        parties:
          - party: AAA
            authority: Ministry A
            scheme:
              party: AAA
              name: Scheme A
              levels:
                - {code: A1, marking: A-ONE, romanization: A one, gloss: TOP SECRET}
                - {code: A2, marking: A-TWO, romanization: A two, gloss: SECRET}
                - {code: A3, marking: A-THREE, romanization: A three, gloss: CONFIDENTIAL}
          - party: BBB
            authority: Ministry B
            scheme:
              party: BBB
              name: Scheme B
              levels:
                - {code: B1, marking: B-ONE, romanization: B one, gloss: TOP SECRET}
                - {code: B2, marking: B-TWO, romanization: B two, gloss: SECRET}
                - {code: B2X, marking: B-TWO-X, romanization: B two x, gloss: SECRET, same_tier_as: B2}
                - {code: B3, marking: B-THREE, romanization: B three, gloss: CONFIDENTIAL}
        equivalence:
          - {tier: SECRET, AAA: [A2], BBB: [B2, B2X]}
          - {tier: CONFIDENTIAL, AAA: [A3], BBB: [B3]}
        lifecycle:
          time_zone: Asia/Seoul
          renewal: automatic
          term_years: 1
          notice_period_days: 90
        """

    /// Parses an agreement text with no scheme files available.
    public static func parseAgreement(_ text: String, name: String = "test.yaml") -> Result<Agreement, ModelError> {
        AgreementDocument.parse(SourceText(name: name, text: text)) { ref in
            throw AppError(.unreadableFile, "\(ref): no such file")
        }
    }
}

/// Loopback ports for processes a test starts.
public enum Loopback {
    /// A port nobody listens on now (the kernel's choice; free when returned).
    public static func freePort() throws -> Int { try LocalPostgresCluster.freePort() }

    /// A connection to `port` on 127.0.0.1 that has sent the first bytes
    /// of a TLS handshake record (one announcing 512 bytes) and will send
    /// no more: its descriptor, the caller's to close; `nil` if it did not connect.
    public static func stalledConnection(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            close(fd)
            return nil
        }
        let header: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00]
        _ = header.withUnsafeBytes { send(fd, $0.baseAddress, 3, Int32(MSG_NOSIGNAL)) }
        return fd
    }

    /// Opens a ``stalledConnection(port:)`` and waits (at most `patience`
    /// seconds) for the server to close it: whether it did, and when.
    public static func stalledHandshake(port: Int, patience: Int = 8) -> (closed: Bool, after: Duration) {
        guard let fd = stalledConnection(port: port) else { return (false, .zero) }
        defer { close(fd) }
        var wait = timeval(tv_sec: patience, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let start = ContinuousClock.now
        var byte: UInt8 = 0
        let received = recv(fd, &byte, 1, 0)
        return (received == 0, ContinuousClock.now - start)
    }
}
