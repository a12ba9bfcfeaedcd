import Foundation
import LiaisonModel
import LiaisonTesting
import Testing

private func schemeProblems(_ text: String) -> [Diagnostic] {
    switch SchemeDocument.parse(SourceText(name: "s.yaml", text: text)) {
    case .success: []
    case .failure(let e): e.diagnostics
    }
}

private func statementProblems(_ text: String) -> [Diagnostic] {
    switch StatementsDocument.parse(SourceText(name: "st.yaml", text: text)) {
    case .success: []
    case .failure(let e): e.diagnostics
    }
}

@Suite("Scheme files")
struct SchemeDocumentTests {
    static let valid = """
        party: JPN
        name: Japan
        levels:
          - {code: GOKUHI, marking: 極秘, romanization: Gokuhi, gloss: SECRET}
          - {code: TOKUTEI, marking: 特定秘密, romanization: Tokutei Himitsu, gloss: SECRET, same_tier_as: GOKUHI}
          - {code: HI, marking: 秘, romanization: Hi, gloss: CONFIDENTIAL}
        """

    @Test func validSchemeKeepsOrderAndTiers() throws {
        let s = try SchemeDocument.parse(SourceText(name: "s.yaml", text: Self.valid)).get()
        #expect(s.levels.map(\.code) == ["GOKUHI", "TOKUTEI", "HI"])
        #expect(s.dominates("TOKUTEI", "GOKUHI") == true && s.dominates("GOKUHI", "TOKUTEI") == true)
        #expect(s.dominates("HI", "GOKUHI") == false)
        #expect(s.dominates("HI", "NOPE") == nil)
        #expect(s.level("GOKUHI")?.marking == "極秘")
    }

    @Test(arguments: [
        ("same_tier_as: GOKUHI}", "same_tier_as: NOPE}", "levels[1].same_tier_as", "not a level listed above"),
        ("{code: HI,", "{code: GOKUHI,", "levels[2].code", "listed twice"),
        ("party: JPN", "party: Japan", "party", "ISO 3166-1"),
        ("name: Japan\n", "", "name", "is required"),
        ("gloss: CONFIDENTIAL}", "gloss: CONFIDENTIAL, colour: red}", "levels[2].colour", "unknown field"),
        ("romanization: Hi,", "", "levels[2].romanization", "is required"),
    ])
    func problemsAreNamed(replace: String, with: String, field: String, reason: String) {
        let found = schemeProblems(Self.valid.replacingOccurrences(of: replace, with: with))
        #expect(found.contains { $0.field == field && $0.reason.contains(reason) }, "\(found)")
    }

    @Test func tiersMustBeListedTogether() {
        let text = """
            party: JPN
            name: Japan
            levels:
              - {code: A, marking: A, romanization: A, gloss: A}
              - {code: B, marking: B, romanization: B, gloss: B}
              - {code: C, marking: C, romanization: C, gloss: C, same_tier_as: A}
            """
        #expect(schemeProblems(text).contains { $0.reason.contains("listed together") })
        #expect(schemeProblems("party: JPN\nname: J\nlevels: []").contains { $0.reason.contains("at least one level") })
    }

    @Test func schemeValuesRefuseBadOrders() {
        let l = { (code: String, rank: Int) in Level(code: code, marking: code, romanization: code, gloss: code, rank: rank) }
        #expect(throws: ModelError(.invalidScheme, "")) { try ClassificationScheme(party: .kor, name: "K", levels: [l("A", 1), l("B", 2)]) }
        #expect(throws: ModelError(.invalidScheme, "")) { try ClassificationScheme(party: .kor, name: "K", levels: [l("A", 2), l("A", 1)]) }
        #expect(throws: ModelError(.invalidScheme, "")) { try ClassificationScheme(party: .kor, name: "K", levels: []) }
    }
}

@Suite("Statements files")
struct StatementsDocumentTests {
    @Test func theShippedStatementsParse() throws {
        let text = try String(contentsOfFile: "\(Fixtures.examplesDirectory)/statements/gsomia-kor-jpn-2016.yaml", encoding: .utf8)
        let c = try StatementsDocument.parse(SourceText(name: "kj.yaml", text: text)).get()
        #expect(c.agreement == "gsomia-kor-jpn-2016")
        #expect(c.statements.map(\.act.name) == ["entry-into-force", "entry-into-force", "termination-notice", "notice-suspension"])
        #expect(c.statements[2].act.statedEffective == Fixtures.at("2019-11-23T00:00:00+09:00"))
        #expect(c.statements.allSatisfy { $0.agreement == "gsomia-kor-jpn-2016" })
    }

    static let base = """
        agreement: gsomia-kor-jpn-2016
        statements:
          - {id: a, party: KOR, act: termination-notice, at: "2019-08-23T16:00:00+09:00"}
        """

    @Test(arguments: [
        ("at: \"2019-08-23T16:00:00+09:00\"", "at: \"2019-08-23T16:00:00\"", "statements[0].at", "explicit offset"),
        ("at: \"2019-08-23T16:00:00+09:00\"", "at: \"2019-02-30T16:00:00+09:00\"", "statements[0].at", "RFC 3339"),
        ("act: termination-notice", "act: resignation", "statements[0].act", "not one of"),
        ("act: termination-notice", "act: notice-suspension", "statements[0].notice", "is required"),
        ("act: termination-notice", "act: amendment, proposal: p", "statements[0].summary", "is required"),
        ("act: termination-notice", "act: entry-into-force, effective: \"2020-01-01T00:00:00Z\"", "statements[0].effective", "unknown field"),
        ("party: KOR", "party: kor", "statements[0].party", "ISO 3166-1"),
        ("id: a", "id: A B", "statements[0].id", "not a valid identifier"),
        ("agreement: gsomia-kor-jpn-2016\n", "", "agreement", "is required"),
        ("statements:", "statement:", "statements", "is required"),
    ])
    func problemsAreNamed(replace: String, with: String, field: String, reason: String) {
        let text = Self.base.replacingOccurrences(of: replace, with: with)
        #expect(text != Self.base)
        let found = statementProblems(text)
        #expect(found.contains { $0.field == field && $0.reason.contains(reason) }, "\(found)")
    }

    @Test func idsAreUniqueWithinAFile() {
        let text = Self.base + "\n  - {id: a, party: JPN, act: entry-into-force, at: \"2016-11-23T10:00:00+09:00\"}"
        #expect(statementProblems(text).contains { $0.field == "statements[1].id" && $0.reason.contains("already used") })
    }

    @Test func truncatedStatementsAreRefusedNotCrashed() throws {
        let text = try String(contentsOfFile: "\(Fixtures.examplesDirectory)/statements/gsomia-kor-jpn-2016.yaml", encoding: .utf8)
        let bytes = Array(text.utf8)
        for cut in stride(from: 0, to: bytes.count, by: 5) {
            let prefix = String(decoding: bytes[0..<cut], as: UTF8.self)
            if case .failure(let e) = StatementsDocument.parse(SourceText(name: "cut.yaml", text: prefix)) {
                #expect(!e.diagnostics.isEmpty)
            }
        }
    }
}

@Suite("RFC 3339 instants")
struct InstantTests {
    @Test(arguments: [
        ("2019-11-23T00:00:00+09:00", 1_574_434_800.0),
        ("2019-11-22T15:00:00Z", 1_574_434_800.0),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59-00:00", -1),
        ("2016-02-29T12:00:00.5+00:00", 1_456_747_200.5),
        ("2000-03-01T00:00:00-05:30", 951_888_600),
    ])
    func parsesStrictly(text: String, seconds: Double) {
        #expect(RFC3339.parse(text)?.timeIntervalSince1970 == seconds)
    }

    @Test(arguments: [
        "2019-11-23", "2019-11-23T00:00:00", "2019-11-23 00:00:00Z", "2019-13-01T00:00:00Z", "2019-02-29T00:00:00Z",
        "2019-11-23T24:00:00Z", "2019-11-23T00:00:00+0900", "2019-11-23T00:00:00+09:00 ", "+2019-11-23T00:00:00Z",
        "2019-11-23T00:00:00.Z", "", "now",
    ])
    func refusesEverythingElse(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func formatsInAZoneAndRoundTrips() {
        let d = Fixtures.at("2019-11-22T15:00:00Z")
        #expect(RFC3339.format(d, in: TimeZone(identifier: "Asia/Seoul")!) == "2019-11-23T00:00:00+09:00")
        #expect(RFC3339.format(d) == "2019-11-22T15:00:00Z")
        for seconds in stride(from: -4_000_000_000, to: 6_000_000_000, by: 7_777_777) {
            let x = Date(timeIntervalSince1970: Double(seconds))
            #expect(RFC3339.parse(RFC3339.format(x, in: TimeZone(secondsFromGMT: -3600 * 5)!)) == x)
        }
    }

    @Test func formatsWithMillisecondsAsFoundationDoes() {
        let foundation = ISO8601DateFormatter()
        foundation.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        foundation.timeZone = .gmt
        #expect(RFC3339.formatMilliseconds(Fixtures.at("2019-11-22T15:00:00Z").addingTimeInterval(0.25)) == "2019-11-22T15:00:00.250Z")
        #expect(RFC3339.formatMilliseconds(Date(timeIntervalSince1970: -0.001)) == "1969-12-31T23:59:59.999Z")
        // 1950 to 2100, where a Date holds a millisecond exactly enough for both to agree.
        for ms in stride(from: -631_152_000_000, to: 4_102_444_800_000, by: 7_777_777_777) {
            let x = Date(timeIntervalSince1970: Double(ms) / 1000)
            #expect(RFC3339.formatMilliseconds(x) == foundation.string(from: x))
        }
    }
}

@Suite("Lifecycle acts stated by an operator")
struct ActFromFieldsTests {
    @Test func eachActTakesItsOwnFields() throws {
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(try LifecycleStatement.Act.make("entry-into-force").get() == .entryIntoForce)
        #expect(try LifecycleStatement.Act.make("termination-notice").get() == .terminationNotice(effective: nil))
        #expect(try LifecycleStatement.Act.make("termination-notice", effective: at).get() == .terminationNotice(effective: at))
        #expect(
            try LifecycleStatement.Act.make("notice-suspension", notice: "kor-notice-2019", condition: "terminable at will").get()
                == .noticeSuspension(notice: "kor-notice-2019", condition: "terminable at will"))
        #expect(try LifecycleStatement.Act.make("suspension-lifted", notice: "n1").get() == .suspensionLifted(notice: "n1", effective: nil))
        #expect(try LifecycleStatement.Act.make("notice-withdrawal", notice: "n1").get() == .noticeWithdrawal(notice: "n1"))
        #expect(
            try LifecycleStatement.Act.make("amendment", effective: at, proposal: "p1", summary: "annex B").get()
                == .amendment(proposal: "p1", summary: "annex B", effective: at))
        #expect(try LifecycleStatement.Act.make("mutual-termination", proposal: "p1").get() == .mutualTermination(proposal: "p1", effective: nil))
        // Every name a statements file takes is one the operator can state.
        #expect(LifecycleStatement.Act.names.count == 7)
    }

    @Test(arguments: [
        ("withdraw", nil, nil, nil, nil, "act is one of"),
        ("notice-withdrawal", nil, nil, nil, nil, "needs notice"),
        ("amendment", nil, nil, "p1", nil, "needs summary"),
        ("entry-into-force", "n1", nil, nil, nil, "takes no notice"),
        ("notice-withdrawal", "n1", "if asked", nil, nil, "takes no condition"),
        ("termination-notice", nil, nil, "p1", nil, "takes no proposal"),
        ("notice-withdrawal", "N 1", nil, nil, nil, "not a valid identifier"),
        ("notice-suspension", "n1", "", nil, nil, "condition has 1 to 500"),
        ("amendment", nil, nil, "p1", String(repeating: "x", count: 501), "summary has 1 to 500"),
    ] as [(String, String?, String?, String?, String?, String)])
    func actsWithMissingOrForeignFieldsAreRefused(
        name: String, notice: String?, condition: String?, proposal: String?, summary: String?, reason: String
    ) {
        switch LifecycleStatement.Act.make(name, notice: notice, condition: condition, proposal: proposal, summary: summary) {
        case .success(let act): Issue.record("accepted \(act)")
        case .failure(let e): #expect(e.reason.contains(reason), "\(e.reason)")
        }
    }
}
