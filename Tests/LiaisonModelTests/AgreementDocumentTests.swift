import Foundation
import LiaisonModel
import LiaisonTesting
import PropertyBased
import Testing

/// One mutation of the minimal agreement and the problem it must produce.
struct DocumentCase: Sendable, CustomTestStringConvertible {
    var name: String
    var replace: String
    var with: String
    var field: String
    var reason: String
    var testDescription: String { name }
}

private func mutated(_ c: DocumentCase) -> String? {
    let text = Fixtures.minimalAgreementYAML
    guard text.contains(c.replace) else { return nil }
    return text.replacingOccurrences(of: c.replace, with: c.with)
}

private func diagnostics(_ text: String) -> [Diagnostic] {
    switch Fixtures.parseAgreement(text) {
    case .success: return []
    case .failure(let e): return e.diagnostics
    }
}

@Suite("Agreement files")
struct AgreementDocumentTests {
    @Test func theMinimalFixtureIsValid() throws {
        let a = try Fixtures.parseAgreement(Fixtures.minimalAgreementYAML).get()
        #expect(a.id == "test-agreement")
        #expect(a.equivalence.rows.map(\.tier) == ["SECRET", "CONFIDENTIAL"])
        #expect(a.term.renewal == .automatic && a.term.noticePeriodDays == 90 && a.term.years == 1)
        #expect(a.thirdPartyRule == .originatorConsent && a.suite == .hybridPQ && a.binding)
        #expect(a.scheme(of: Party("BBB")!)?.level("B2X")?.rank == a.scheme(of: Party("BBB")!)?.level("B2")?.rank)
    }

    @Test(arguments: ExampleSetIDs.all)
    func theShippedAgreementsAreValid(id: String) {
        let a = Fixtures.agreement(id)
        #expect(a.id == id)
        #expect(a.parties.count >= 2)
        #expect(a.parties.allSatisfy { $0.trustAnchors.isEmpty })
    }

    @Test func theShippedSetSaysWhatTheTreatiesSay() {
        let kj = Fixtures.kj
        #expect(kj.equivalence.rows.map(\.tier) == ["SECRET", "CONFIDENTIAL"])
        #expect(kj.equivalence.row(for: .kor, level: "I") == nil)
        #expect(kj.equivalence.row(for: .jpn, level: "KIMITSU") == nil)
        #expect(kj.equivalence.equivalents(of: "II", from: .kor, to: .jpn) == ["GOKUHI", "TOKUTEI"])
        #expect(kj.term.timeZone.identifier == "Asia/Seoul" && kj.term.noticePeriodDays == 90)
        let tisa = Fixtures.tisa
        #expect(tisa.hub?.hub == .usa && !tisa.binding)
        #expect(tisa.purposes.map(\.code) == ["dprk-nuclear-missile"])
        #expect(tisa.basedOn == ["gsomia-kor-usa-1987", "gsomia-jpn-usa-2007"])
        for id in ["gsomia-kor-usa-1987", "gsomia-jpn-usa-2007"] {
            #expect(Fixtures.agreement(id).equivalence.rows.count == 3)
        }
        let jpn = Fixtures.scheme(.jpn)
        #expect(jpn.levels.map(\.code) == ["KIMITSU", "GOKUHI", "TOKUTEI", "HI"])
        #expect(jpn.level("TOKUTEI")!.rank == jpn.level("GOKUHI")!.rank)
        #expect(Fixtures.scheme(.kor).levels.map(\.code) == ["I", "II", "III"])
        #expect(Fixtures.scheme(.usa).levels.map(\.code) == ["TS", "S", "C"])
    }

    static let cases: [DocumentCase] = [
        .init(name: "unknown party in a row", replace: "{tier: CONFIDENTIAL, AAA: [A3], BBB: [B3]}",
              with: "{tier: CONFIDENTIAL, AAA: [A3], BBB: [B3], CCC: [C3]}", field: "equivalence[1].CCC", reason: "unknown party CCC"),
        .init(name: "row breaks the order", replace: "{tier: CONFIDENTIAL, AAA: [A3], BBB: [B3]}",
              with: "{tier: CONFIDENTIAL, AAA: [A1], BBB: [B3]}", field: "equivalence[1].AAA", reason: "breaks the order of AAA's scheme"),
        .init(name: "level used twice across rows", replace: "{tier: CONFIDENTIAL, AAA: [A3], BBB: [B3]}",
              with: "{tier: CONFIDENTIAL, AAA: [A3], BBB: [B2X]}", field: "equivalence[1].BBB", reason: "used twice"),
        .init(name: "level named twice in a row", replace: "BBB: [B2, B2X]}", with: "BBB: [B2, B2]}",
              field: "equivalence[0].BBB", reason: "named twice in this row"),
        .init(name: "a row mixing tiers", replace: "BBB: [B2, B2X]}", with: "BBB: [B2, B3]}",
              field: "equivalence[0].BBB", reason: "different tiers"),
        .init(name: "unknown level", replace: "AAA: [A2]", with: "AAA: [A9]", field: "equivalence[0].AAA", reason: "A9 is not a level of AAA"),
        .init(name: "row missing a party", replace: "{tier: CONFIDENTIAL, AAA: [A3], BBB: [B3]}",
              with: "{tier: CONFIDENTIAL, AAA: [A3]}", field: "equivalence[1]", reason: "no level for party BBB"),
        .init(name: "tier listed twice", replace: "tier: CONFIDENTIAL", with: "tier: SECRET", field: "equivalence[1].tier", reason: "two rows"),
        .init(name: "missing notice period", replace: "\n  notice_period_days: 90", with: "", field: "lifecycle.notice_period_days", reason: "is required"),
        .init(name: "negative notice period", replace: "notice_period_days: 90", with: "notice_period_days: -5",
              field: "lifecycle.notice_period_days", reason: "between 0 and 3650"),
        .init(name: "notice period not a number", replace: "notice_period_days: 90", with: "notice_period_days: ninety",
              field: "lifecycle.notice_period_days", reason: "whole number"),
        .init(name: "misspelt field", replace: "notice_period_days: 90", with: "notice_period_days: 90\n  notice_period_dayz: 30",
              field: "lifecycle.notice_period_dayz", reason: "unknown field"),
        .init(name: "unknown time zone", replace: "Asia/Seoul", with: "Asia/Nowhere", field: "lifecycle.time_zone", reason: "not an IANA time zone"),
        .init(name: "unknown renewal rule", replace: "renewal: automatic", with: "renewal: sometimes", field: "lifecycle.renewal", reason: "not one of"),
        .init(name: "term on an indefinite agreement", replace: "renewal: automatic", with: "renewal: indefinite",
              field: "lifecycle.term_years", reason: "no term"),
        .init(name: "zero-year term", replace: "term_years: 1", with: "term_years: 0", field: "lifecycle.term_years", reason: "between 1 and 100"),
        .init(name: "hub that is not a party", replace: "lifecycle:", with: "hub:\n  party: ZZZ\n  routes: [{from: AAA, to: BBB}]\nlifecycle:",
              field: "hub.party", reason: "not a party"),
        .init(name: "hub with two parties", replace: "lifecycle:", with: "hub:\n  party: BBB\n  routes: [{from: AAA, to: BBB}]\nlifecycle:",
              field: "hub", reason: "at least three"),
        .init(name: "bad party code", replace: "- party: BBB\n", with: "- party: Bbb\n", field: "parties[1].party", reason: "ISO 3166-1 alpha-3"),
        .init(name: "duplicate party", replace: "- party: BBB\n", with: "- party: AAA\n", field: "parties[1].party", reason: "listed twice"),
        .init(name: "scheme of another party", replace: "party: BBB\n      name: Scheme B", with: "party: CCC\n      name: Scheme B",
              field: "parties[1].scheme", reason: "the scheme is CCC's"),
        .init(name: "scheme file missing", replace: "scheme:\n      party: AAA", with: "scheme: ../schemes/NONE.yaml\n    old_scheme:\n      party: AAA",
              field: "parties[0].scheme", reason: "cannot read scheme"),
        .init(name: "bad identifier", replace: "id: test-agreement", with: "id: Test Agreement", field: "id", reason: "not a valid identifier"),
        .init(name: "missing title", replace: "title: Test agreement\n", with: "", field: "title", reason: "is required"),
        .init(name: "empty title", replace: "title: Test agreement", with: "title: \"\"", field: "title", reason: "must not be empty"),
        .init(name: "unknown suite", replace: "lifecycle:", with: "suite: rot13\nlifecycle:", field: "suite", reason: "not one of: hybrid-pq, classic"),
        .init(name: "unknown third-party rule", replace: "lifecycle:", with: "third_party_rule: anyone\nlifecycle:", field: "third_party_rule", reason: "not one of"),
        .init(name: "binding not a boolean", replace: "lifecycle:", with: "binding: maybe\nlifecycle:", field: "binding", reason: "true or false"),
        .init(name: "malformed trust anchor", replace: "authority: Ministry A", with: "authority: Ministry A\n    trust_anchors: [{kind: root-ca, fingerprint: md5:00}]",
              field: "parties[0].trust_anchors[0].fingerprint", reason: "sha256:"),
        .init(name: "purpose listed twice", replace: "lifecycle:", with: "purposes:\n  - {code: p, description: x}\n  - {code: p, description: y}\nlifecycle:",
              field: "purposes[1].code", reason: "listed twice"),
        .init(name: "rides on itself", replace: "lifecycle:", with: "based_on: [test-agreement]\nlifecycle:", field: "based_on", reason: "itself"),
        .init(name: "equivalence not a list", replace: "equivalence:\n  - {tier: SECRET, AAA: [A2], BBB: [B2, B2X]}\n  - {tier: CONFIDENTIAL, AAA: [A3], BBB: [B3]}",
              with: "equivalence: SECRET", field: "equivalence", reason: "expected a list"),
        .init(name: "duplicate key", replace: "title: Test agreement", with: "title: Test agreement\ntitle: Again", field: "", reason: "appears twice"),
    ]

    @Test(arguments: cases)
    func eachProblemIsReportedWithItsFieldAndReason(c: DocumentCase) {
        let text = mutated(c)
        #expect(text != nil, "the fixture has no \(c.replace)")
        let found = diagnostics(text ?? "")
        #expect(!found.isEmpty, "the mutation was accepted")
        let hit = found.first { $0.field == c.field && $0.reason.contains(c.reason) }
        #expect(hit != nil, "expected \(c.field): …\(c.reason)…; got \(found.map(\.description))")
        #expect(found.allSatisfy { $0.file == "test.yaml" })
    }

    @Test func routesThroughTheHubAreChecked() {
        let three = Fixtures.minimalAgreementYAML.replacingOccurrences(
            of: "equivalence:",
            with: """
                  - party: CCC
                    authority: Ministry C
                    scheme: {party: CCC, name: C, levels: [{code: C2, marking: C2, romanization: C2, gloss: SECRET}, {code: C3, marking: C3, romanization: C3, gloss: CONFIDENTIAL}]}
                equivalence:
                """
        ).replacingOccurrences(of: "BBB: [B2, B2X]}", with: "BBB: [B2, B2X], CCC: [C2]}")
            .replacingOccurrences(of: "BBB: [B3]}", with: "BBB: [B3], CCC: [C3]}")
        let ok = three + "\nhub:\n  party: CCC\n  routes: [{from: AAA, to: BBB}, {from: BBB, to: AAA}]\n"
        #expect(diagnostics(ok).isEmpty, "\(diagnostics(ok))")
        let toHub = three + "\nhub:\n  party: CCC\n  routes: [{from: AAA, to: CCC}]\n"
        #expect(diagnostics(toHub).contains { $0.reason.contains("through the hub") })
        let loop = three + "\nhub:\n  party: CCC\n  routes: [{from: AAA, to: AAA}]\n"
        #expect(diagnostics(loop).contains { $0.reason.contains("from one party to another") })
        let unknown = three + "\nhub:\n  party: CCC\n  routes: [{from: AAA, to: DDD}]\n"
        #expect(diagnostics(unknown).contains { $0.field == "hub.routes[0].to" && $0.reason.contains("unknown party DDD") })
        let twice = three + "\nhub:\n  party: CCC\n  routes: [{from: AAA, to: BBB}, {from: AAA, to: BBB}]\n"
        #expect(diagnostics(twice).contains { $0.reason.contains("listed twice") })
    }

    @Test func everyProblemIsReportedNotJustTheFirst() {
        let text = Fixtures.minimalAgreementYAML
            .replacingOccurrences(of: "notice_period_days: 90", with: "notice_period_days: x")
            .replacingOccurrences(of: "AAA: [A2]", with: "AAA: [A9]")
            .replacingOccurrences(of: "id: test-agreement", with: "id: BAD ID")
        let found = diagnostics(text)
        #expect(Set(found.map(\.field)).isSuperset(of: ["id", "equivalence[0].AAA", "lifecycle.notice_period_days"]))
        #expect(found.allSatisfy { $0.line > 0 }, "every problem has a line: \(found)")
        let idLine = found.first { $0.field == "id" }!
        #expect(idLine.line == 1)
    }

    @Test(arguments: [
        ("", "empty"),
        ("just a string", "expected a mapping"),
        ("- a\n- b", "expected a mapping"),
        ("id: [unclosed", "not valid YAML"),
        ("\u{0}\u{1}\u{2}", "NUL byte"),
        ("key: \"unterminated", "not valid YAML"),
        (String(repeating: "[", count: 5000), "not valid YAML"),
        (String(repeating: "a", count: 2 << 20), "the limit is"),
    ])
    func garbageIsRefusedWithAReason(text: String, reason: String) {
        let found = diagnostics(text)
        #expect(found.contains { $0.reason.contains(reason) }, "\(found.prefix(3))")
    }

    /// Anchors and aliases expand by reference in the parser, and the reader
    /// walks only the fields it knows, so a "billion laughs" document is
    /// refused after a bounded amount of work.
    @Test func aliasBombsAreRefusedCheaply() {
        var text = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 {
            text += "l\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        text += "equivalence: *l9\nparties: *l9\npurposes: *l9\n"
        let found = diagnostics(text)
        #expect(found.contains { $0.field == "l9" && $0.reason.contains("unknown field") })
        #expect(found.count < 100)
    }

    /// Every prefix of every shipped file is either valid or refused with a
    /// reason — never a crash, never a silent default.
    @Test(arguments: ExampleSetIDs.all)
    func truncatedFilesAreRefusedNotCrashed(id: String) throws {
        let path = "\(Fixtures.examplesDirectory)/agreements/\(id).yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let bytes = Array(text.utf8)
        var refused = 0
        for cut in stride(from: 0, to: bytes.count, by: 7) {
            let prefix = String(decoding: bytes[0..<cut], as: UTF8.self)
            let result = AgreementDocument.parse(SourceText(name: "cut.yaml", text: prefix)) { ref in
                try DocumentReaderFixture.scheme(ref)
            }
            if case .failure(let e) = result {
                #expect(!e.diagnostics.isEmpty)
                refused += 1
            }
        }
        #expect(refused > bytes.count / 14)
    }

    @Test func randomBytesNeverCrashTheParser() async {
        await propertyCheck(count: 400, input: Gen<UInt8>.value(in: 0...255).array(of: 0...400)) { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            if case .success = Fixtures.parseAgreement(text) { Issue.record("random bytes were accepted") }
        }
    }

    @Test func randomEditsOfAValidFileNeverCrashTheParser() async {
        let base = Array(Fixtures.minimalAgreementYAML.utf8)
        await propertyCheck(count: 400, input: Gen.int(in: 0...(base.count - 1)).array(of: 1...6), Gen<UInt8>.value(in: 0...255).array(of: 6)) { positions, values in
            var bytes = base
            for (p, v) in zip(positions, values) { bytes[p] = v }
            let text = String(decoding: bytes, as: UTF8.self)
            switch Fixtures.parseAgreement(text) {
            case .success(let a): #expect(!a.parties.isEmpty)
            case .failure(let e): #expect(!e.diagnostics.isEmpty)
            }
        }
    }
}

enum ExampleSetIDs {
    static let all = ["gsomia-kor-jpn-2016", "gsomia-kor-usa-1987", "gsomia-jpn-usa-2007", "tisa-2014"]
}

/// Resolves scheme references against the shipped `Examples/schemes`.
enum DocumentReaderFixture {
    struct Missing: Error {}
    static func scheme(_ reference: String) throws -> SourceText {
        let name = URL(fileURLWithPath: reference).lastPathComponent
        let path = "\(Fixtures.examplesDirectory)/schemes/\(name)"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw Missing() }
        return SourceText(name: path, text: text)
    }
}
