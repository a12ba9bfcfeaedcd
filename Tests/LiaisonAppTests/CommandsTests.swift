import Foundation
import LiaisonApp
import LiaisonModel
import LiaisonTesting
import Testing

private let examples = Fixtures.examplesDirectory
private let kjFile = "\(examples)/agreements/gsomia-kor-jpn-2016.yaml"
private let kjStatements = "\(examples)/statements/gsomia-kor-jpn-2016.yaml"

/// A temporary directory removed when the value goes away.
final class TempDir {
    let path: String
    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("liaison-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func write(_ name: String, _ data: Data) -> String {
        let p = "\(path)/\(name)"
        _ = FileManager.default.createFile(atPath: p, contents: data)
        return p
    }
    func write(_ name: String, _ text: String) -> String { write(name, Data(text.utf8)) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("liaison agreement and label commands")
struct CommandsTests {
    @Test func theShippedAgreementsCheckClean() {
        let out = Commands.check(files: ExampleSet.agreementIDs.map { "\(examples)/agreements/\($0).yaml" })
        #expect(out.exitCode == 0)
        #expect(out.stderr.isEmpty)
        #expect(out.stdout.count == 4)
        #expect(out.stdout[0].contains("ok — gsomia-kor-jpn-2016, parties KOR, JPN, equivalence SECRET, CONFIDENTIAL"))
        let withStatements = Commands.check(files: [kjFile], statements: kjStatements)
        #expect(withStatements.exitCode == 0)
        #expect(withStatements.stdout.last?.contains("4 statements accepted") == true)
    }

    @Test func everyErrorOfEveryFileIsPrinted() {
        let dir = TempDir()
        let bad = dir.write(
            "bad.yaml",
            Fixtures.minimalAgreementYAML
                .replacingOccurrences(of: "notice_period_days: 90", with: "notice_period_dayz: 90")
                .replacingOccurrences(of: "AAA: [A3]", with: "AAA: [A1]"))
        let out = Commands.check(files: [bad, kjFile, "\(dir.path)/missing.yaml"])
        #expect(out.exitCode == 1)
        #expect(out.stdout.count == 1)  // the good file
        let text = out.stderr.joined(separator: "\n")
        #expect(text.contains("\(bad):"))
        #expect(text.contains("lifecycle.notice_period_days: is required"))
        #expect(text.contains("lifecycle.notice_period_dayz: unknown field"))
        #expect(text.contains("equivalence[1].AAA: this row breaks the order"))
        #expect(text.contains("missing.yaml: no such file"))
    }

    @Test func refusedStatementsFailTheCheck() {
        let dir = TempDir()
        let st = dir.write(
            "st.yaml",
            """
            agreement: gsomia-kor-jpn-2016
            statements:
              - {id: a, party: KOR, act: entry-into-force, at: "2016-11-23T10:00:00+09:00"}
              - {id: b, party: JPN, act: entry-into-force, at: "2016-11-23T10:00:00+09:00"}
              - {id: c, party: USA, act: termination-notice, at: "2017-01-01T00:00:00+09:00"}
            """)
        let out = Commands.check(files: [kjFile], statements: st)
        #expect(out.exitCode == 1)
        #expect(out.stderr.joined().contains("c: refused — Art 21: USA is not a party"))
    }

    @Test(arguments: [
        ("not-utf8.yaml", Data([0xFF, 0xFE, 0x00, 0x41]), "not UTF-8 text"),
        ("nul.yaml", Data("id: a\u{0}b".utf8), "NUL byte"),
        ("empty.yaml", Data(), "empty"),
        ("huge.yaml", Data(repeating: 0x61, count: (1 << 20) + 1), "limited to 1 MiB"),
        ("list.yaml", Data("- 1\n- 2\n".utf8), "expected a mapping"),
    ])
    func unreadableFilesAreRefused(name: String, data: Data, reason: String) {
        let dir = TempDir()
        let out = Commands.check(files: [dir.write(name, data)])
        #expect(out.exitCode == 1)
        #expect(out.stderr.joined().contains(reason), "\(out.stderr)")
        #expect(Commands.check(files: [dir.path]).stderr.joined().contains("is a directory"))
    }

    @Test func statusReadsTheRealTimeline() throws {
        let out = Commands.status(file: kjFile, statements: kjStatements, at: "2019-11-22T20:00:00+09:00", json: false)
        #expect(out.exitCode == 0)
        let text = out.stdout.joined()
        #expect(text.contains("termination notice suspended (terminable at will)"))
        #expect(text.contains("kor-suspension-2019"))
        #expect(text.contains("the notice would have taken effect 2019-11-23T00:00:00+09:00"))

        let json = Commands.status(file: kjFile, statements: kjStatements, at: "2019-09-01T00:00:00+09:00", json: true)
        let object = try #require(JSONSerialization.jsonObject(with: Data(json.stdout.joined().utf8)) as? [String: Any])
        #expect(object["phase"] as? String == "notice-given")
        #expect(object["in_force"] as? Bool == true)
        #expect(object["scheduled_termination"] as? String == "2019-11-23T00:00:00+09:00")
        #expect((object["notice"] as? [String: Any])?["statement"] as? String == "kor-notice-2019")
        // First notification, entry into force, renewals in 2017 and 2018, the notice.
        #expect((object["timeline"] as? [Any])?.count == 5)
    }

    @Test func statusDeadlinesAndWithoutStatements() {
        let pending = Commands.status(file: kjFile, statements: nil, at: "2019-01-01T00:00:00+09:00", json: false)
        #expect(pending.stdout.joined().contains("pending — not yet in force"))
        let before = Commands.status(file: kjFile, statements: kjStatements, at: "2019-06-01T00:00:00+09:00", json: false)
        #expect(before.stdout.joined().contains("renews 2019-11-23T00:00:00+09:00 unless notice is given before 2019-08-25T00:00:00+09:00"))
    }

    @Test(arguments: [
        ("2019-11-22", "expected an RFC 3339 instant"),
        ("yesterday", "expected an RFC 3339 instant"),
    ])
    func statusRefusesBadInstants(at: String, reason: String) {
        let out = Commands.status(file: kjFile, statements: kjStatements, at: at, json: false)
        #expect(out.exitCode == 1)
        #expect(out.stderr.joined().contains(reason))
        #expect(out.stdout.isEmpty)
    }

    @Test func statusRefusesStatementsOfAnotherAgreement() {
        let out = Commands.status(
            file: kjFile, statements: "\(examples)/statements/tisa-2014.yaml", at: "now", json: false)
        #expect(out.exitCode == 1)
        #expect(out.stderr.joined().contains("the statements are for tisa-2014, not gsomia-kor-jpn-2016"))
    }

    @Test func statusAtNowUsesTheClock() {
        let out = Commands.status(
            file: kjFile, statements: kjStatements, at: "now", json: true, now: Fixtures.at("2030-01-01T00:00:00Z"))
        #expect(out.stdout.joined().contains("\"at\" : \"2030-01-01T09:00:00+09:00\""))
    }

    @Test func markGivesTheDualMarkingOrTheRefusal() {
        let ok = Commands.mark(agreement: kjFile, to: "JPN", level: "II", from: nil)
        #expect(ok.exitCode == 0)
        #expect(ok.stdout.joined(separator: "\n").contains("receiver    JPN  極秘"))
        #expect(ok.stdout.joined(separator: "\n").contains("特定秘密 (TOKUTEI)"))
        let ts = Commands.mark(agreement: kjFile, to: "JPN", level: "I", from: nil)
        #expect(ts.exitCode == 2)
        #expect(ts.stderr.joined().contains("Art 4"))
        let back = Commands.mark(agreement: kjFile, to: "KOR", level: "HI", from: "JPN")
        #expect(back.stdout.joined().contains("군사III급비밀"))
    }

    @Test(arguments: [
        ("XX", "II", nil as String?, "--to XX: not a party code"),
        ("JPN", "II", "kor", "--from kor: not a party code"),
        ("JPN", "Z", nil, "not in the scheme of any other party"),
    ])
    func markRefusesBadArguments(to: String, level: String, from: String?, reason: String) {
        let out = Commands.mark(agreement: kjFile, to: to, level: level, from: from)
        #expect(out.exitCode == 1)
        #expect(out.stderr.joined().contains(reason), "\(out.stderr)")
    }

    @Test func theDemoTellsTheStory() async throws {
        var lines: [String] = []
        let dir = TempDir()
        await HistoryDemo(examples: Fixtures.examples, dataDirectory: dir.path + "/jpn") { lines.append($0) }.run()
        let text = lines.joined(separator: "\n")
        for expected in [
            "✔ KOR → JPN under gsomia-kor-jpn-2016: permitted",
            "✘ KOR → JPN, a TOP SECRET annex: refused — Art 4",
            "✘ Suzuki (PSC 秘, MISSILE): refused — Art 7",
            "✘ Gen. Yamada (administrator, PSC 秘): refused — Art 7",
            "in force, termination notice suspended (terminable at will)",
            "✘ KOR → JPN on 24 Nov 2019: refused — Art 21",
            "✔ Sato reads the 2017 assessment after termination (protection survives, Art 21): permitted",
            "✘ KOR → JPN directly under TISA: refused — TISA ¶4",
            "✘ USA → JPN without Korea's consent: refused — Art 6(a)",
            "✔ USA → JPN with Korea's consent kor-consent-0001: permitted",
            "refused — Art 6(c)",
            "✘ JPN reclassifies the assessment to 군사III급비밀: refused — Art 6(g)",
            "✔ USA opens it: KOR 군사II급비밀",
            "✘ JPN refuses it without KOR's consent: Art 6(a)",
            "✔ JPN opens it with KOR's signed consent: KOR's seal and consent verified by JPN itself; marked 極秘",
            "payload encrypted at rest (reads back intact)",
            "✔ ledger: entry 0 records the receipt, entry 1 the read; tree head at 2 signed by JPN",
            "✔ the receipt's inclusion proof (1 hash) leads to that signed root",
        ] {
            #expect(text.contains(expected), "the demo lacks: \(expected)")
        }
        // What the demo kept verifies with the CLI's own check.
        let verified = await Commands.verifyLedger(dir: dir.path + "/jpn")
        #expect(verified.exitCode == 0, "\(verified.stderr)")
    }
}

@Suite("liaison label export and import")
struct LabelCommandTests {
    @Test func exportThenImportWithMarking() throws {
        let dir = TempDir()
        let out = Commands.exportLabel(
            policy: nil, originator: "KOR", level: "III", releasableTo: ["JPN"], categories: ["PERMISSIVE:Community=NAVY,AIR"],
            purpose: nil, created: "2020-01-01T00:00:00Z", review: nil, now: Date())
        #expect(out.exitCode == 0)
        let file = dir.write("label.xml", out.stdout.joined(separator: "\n"))
        let back = Commands.importLabel(file: file, agreement: kjFile, to: "JPN")
        #expect(back.exitCode == 0, "\(back.stderr)")
        let text = back.stdout.joined(separator: "\n")
        #expect(text.contains("category     PERMISSIVE Community: AIR, NAVY"))
        #expect(text.contains("receiver    JPN  秘"))
    }

    @Test(arguments: [
        ("Korea", "II", ["RESTRICTIVE:C=x"], "not a party code"),
        ("KOR", "II", ["SECRET:C=x"], "expected TYPE:Tag=value"),
        ("KOR", "II", ["RESTRICTIVE:C"], "expected TYPE:Tag=value"),
        ("KOR", "", [], "names its level"),
    ])
    func badExportArgumentsAreRefused(originator: String, level: String, categories: [String], reason: String) {
        let out = Commands.exportLabel(
            policy: nil, originator: originator, level: level, releasableTo: [], categories: categories, purpose: nil, created: nil,
            review: nil, now: Date())
        #expect(out.exitCode == 1)
        #expect(out.stderr.joined().contains(reason), "\(out.stderr)")
    }

    @Test func malformedLabelFilesAreRefused() {
        let dir = TempDir()
        let out = Commands.importLabel(file: dir.write("bad.xml", "<label/>"), agreement: nil, to: nil)
        #expect(out.exitCode == 1)
        #expect(out.stderr.joined().contains("bad.xml"))
        let ts = Commands.importLabel(
            file: dir.write(
                "ts.xml",
                Commands.exportLabel(
                    policy: nil, originator: "KOR", level: "I", releasableTo: ["JPN"], categories: [], purpose: nil, created: nil,
                    review: nil, now: Date()
                ).stdout.joined()), agreement: kjFile, to: "JPN")
        #expect(ts.exitCode == 2)
        #expect(ts.stderr.joined().contains("Art 4"))
    }
}
