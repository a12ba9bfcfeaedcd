import AsyncHTTPClient
import Foundation
import HTTPTypes
import LiaisonApp
import LiaisonFederation
import LiaisonHTTP
import LiaisonLedger
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonTesting
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
import Testing

/// The operator JSON API over real HTTPS, against running nodes: who may
/// log in, what each role may do, what each user may read — and that
/// every read and every refusal is in the ledger.
@Suite("Operator API", .serialized) struct OperatorAPITests {
    static let logger: Logger = {
        var l = Logger(label: "liaison-test")
        l.logLevel = .error
        return l
    }()

    static let password = "correct horse battery"

    /// KOR and JPN running, with fast bcrypt and a lock-out after 3 failures;
    /// at KOR an analyst cleared II with the EAST-SEA category, one cleared
    /// III, a releasing officer and an administrator; at JPN an analyst cleared GOKUHI.
    static func start() async throws -> (LocalFederation, [Party: OperatorClient]) {
        let net = try await LocalFederation.start(parties: [.kor, .jpn], examples: Fixtures.examplesDirectory, logger: logger) { s in
            s.accounts.bcryptCost = 4
            s.accounts.failuresBeforeLockOut = 3
        }
        let year = Date().addingTimeInterval(365 * 86_400)
        let kor = net[.kor].accounts
        try await kor.add(
            "kim", .init(displayName: "Kim Analyst", roles: [.analyst], clearance: ("II", year), categories: ["PROJECT:EAST-SEA"]), password: password,
            by: "test")
        try await kor.add("park", .init(displayName: "Park", roles: [.analyst], clearance: ("III", year), categories: []), password: password, by: "test")
        try await kor.add(
            "lee", .init(displayName: "Lee Releasing", roles: [.releasingOfficer], clearance: ("II", year), categories: ["PROJECT:EAST-SEA"]),
            password: password, by: "test")
        try await kor.add("admin", .init(displayName: "Admin", roles: [.administrator], clearance: nil, categories: []), password: password, by: "test")
        try await net[.jpn].accounts.add(
            "sato", .init(displayName: "Sato", roles: [.analyst], clearance: ("GOKUHI", year), categories: ["PROJECT:EAST-SEA"]), password: password,
            by: "test")
        var clients: [Party: OperatorClient] = [:]
        for p in [Party.kor, .jpn] {
            clients[p] = try OperatorClient(
                port: await net[p].consolePort(), root: "\(net.directory)/\(p.code.lowercased())/tls-root-ca.pem", party: p)
        }
        return (net, clients)
    }

    static func stop(_ net: LocalFederation, _ clients: [Party: OperatorClient]) async {
        for c in clients.values { try? await c.http.shutdown() }
        await net.stop()
    }

    static var newItem: [String: Any] { [
        "label": [
            "level": "II", "releasable_to": ["JPN"], "purpose": "dprk-nuclear-missile",
            "categories": [["tag": "PROJECT", "kind": "RESTRICTIVE", "values": ["EAST-SEA"]]],
        ],
        "media_type": "text/plain", "content_text": "launch assessment 2026-11",
    ] }

    /// A body larger than the API takes is refused before it is read: by
    /// its declared length at once, or, sent in chunks, once the limit is
    /// passed; either way the connection closes, so the client stops
    /// sending rather than the node reading (or draining) the rest.
    @Test(arguments: [true, false], [true, false])
    func aLargeBodyIsRefusedBeforeItIsRead(declared: Bool, signedIn: Bool) async throws {
        let (net, clients) = try await Self.start()
        defer { Task { await Self.stop(net, clients) } }
        let kor = clients[.kor]!
        let kim = try await kor.login("kim", Self.password)
        let issued = try await kor.send("POST", "/api/v1/tokens", json: ["name": "upload"], cookie: kim.cookie, csrf: kim.csrf)
        let token = try #require(issued.object["token"] as? String)
        let total: Int64 = 256 << 20
        let pulled = PulledBytes()
        var request = HTTPClientRequest(url: kor.base + "/api/v1/items")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if signedIn { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .stream(PulledBytes.Body(total: total, pulled: pulled), length: declared ? .known(total) : .unknown)
        var status: UInt = 0
        do {
            let response = try await kor.http.execute(request, timeout: .seconds(60))
            status = response.status.code
            _ = try? await response.body.collect(upTo: 1 << 20)
        } catch {
            Issue.record("no answer before the connection closed: \(error)")
        }
        // The answer arrives, then the connection closes.
        #expect(status == (signedIn || declared ? 413 : 401), "HTTP \(status)")
        #expect(pulled.value < 32 << 20, "the client sent \(pulled.value >> 20) MiB of \(total >> 20) MiB")
    }

    @Test func everyRouteRefusesTheUnauthenticated() async throws {
        let (net, clients) = try await Self.start()
        let kor = clients[.kor]!
        let document = try JSONSerialization.jsonObject(with: Data(OperatorAPI.openAPIDocument(.kor, levels: ["I", "II", "III"], parties: ["JPN", "USA"], agreements: ["gsomia-kor-jpn-2016"]).utf8)) as! [String: Any]
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = document["paths"] as! [String: [String: Any]]
        var checked = 0
        let before = try await net[.kor].store.size()
        for (path, operations) in paths.sorted(by: { $0.key < $1.key }) {
            for (method, operation) in operations {
                let op = operation as! [String: Any]
                let security = op["security"] as? [Any] ?? []
                if security.isEmpty { continue }
                let concrete = path.replacingOccurrences(of: "{id}", with: String(repeating: "ab", count: 16)).replacingOccurrences(of: "{name}", with: "kim")
                let r = try await kor.send(method.uppercased(), concrete, json: [String: Any]())
                #expect(r.status == 401, "\(method) \(path): \(r.status)")
                #expect(r.contentType == "application/problem+json", "\(method) \(path)")
                checked += 1
            }
        }
        #expect(checked >= 13)
        // A forged cookie and a forged token are refused the same way.
        #expect(try await kor.send("GET", "/api/v1/me", cookie: String(repeating: "A", count: 43)).status == 401)
        #expect(try await kor.send("GET", "/api/v1/me", bearer: "lsn_" + String(repeating: "A", count: 43)).status == 401)
        #expect(try await kor.send("GET", "/api/v1/me", bearer: "not a token").status == 401)
        // The document itself is public.
        #expect(try await kor.send("GET", "/openapi.json").status == 200)
        #expect(try await net[.kor].store.size() == before)
        await Self.stop(net, clients)
    }

    @Test func repeatedFailedLoginsLockTheAccountAndAreRecorded() async throws {
        let (net, clients) = try await Self.start()
        let kor = clients[.kor]!
        let before = try await net[.kor].store.size()
        for _ in 0..<2 {
            let r = try await kor.send("POST", "/api/v1/session", json: ["name": "kim", "password": "wrong password!"])
            #expect(r.status == 401)
            #expect(r.problem["detail"] as? String == "the name or the password is wrong")
        }
        // The third locks it; then even the right password is refused until the lock ends.
        let third = try await kor.send("POST", "/api/v1/session", json: ["name": "kim", "password": "wrong password!"])
        #expect(third.status == 429)
        let locked = try await kor.send("POST", "/api/v1/session", json: ["name": "kim", "password": Self.password])
        #expect(locked.status == 429)
        #expect((locked.problem["detail"] as? String)?.contains("locked until") == true)
        // An unknown name gets the answer a wrong password gets.
        let unknown = try await kor.send("POST", "/api/v1/session", json: ["name": "nobody", "password": "wrong password!"])
        #expect(unknown.status == 401)
        #expect(unknown.problem["detail"] as? String == "the name or the password is wrong")
        let entries = try await (before..<net[.kor].store.size()).asyncMap { try await net[.kor].store.entry(at: $0) }
        #expect(entries.filter { $0.detail.hasPrefix("login of kim failed") }.count == 3)
        #expect(entries.contains { $0.detail.contains("login of kim refused: locked until") })
        #expect(entries.contains { $0.detail == "login refused: an unknown name" })
        // The administrator lifts it from the command line's side (enable), and kim logs in.
        try await net[.kor].accounts.setDisabled("kim", false, by: "admin")
        #expect(try await kor.login("kim", Self.password).user.name == "kim")
        await Self.stop(net, clients)
    }

    @Test func analystsCreateReadAndAreRefusedByTheAccessPolicy() async throws {
        let (net, clients) = try await Self.start()
        let kor = clients[.kor]!
        let kim = try await kor.login("kim", Self.password)
        // Without the CSRF token, a cookie cannot change anything.
        let forged = try await kor.send("POST", "/api/v1/items", json: Self.newItem, cookie: kim.cookie)
        #expect(forged.status == 403)
        #expect(try await net[.kor].store.holdings(after: nil, limit: 10).isEmpty)
        let created = try await kor.send("POST", "/api/v1/items", json: Self.newItem, cookie: kim.cookie, csrf: kim.csrf)
        #expect(created.status == 201, "\(created.text)")
        let id = created.object["id"] as! String
        let marking = created.object["marking"] as! [String: Any]
        #expect(marking["local_level"] as? String == "II")
        // kim lists and reads it; the read is in the ledger.
        let list = try await kor.send("GET", "/api/v1/items", cookie: kim.cookie)
        #expect(((list.object["items"] as? [[String: Any]]) ?? []).map { $0["id"] as? String } == [id])
        let before = try await net[.kor].store.size()
        let read = try await kor.send("GET", "/api/v1/items/\(id)", cookie: kim.cookie)
        #expect(read.object["content_text"] as? String == "launch assessment 2026-11")
        #expect(try await net[.kor].store.entry(at: before).kind == .itemRead)
        // park (III, no category) neither sees it in the list nor reads it: refused with the article, recorded.
        let park = try await kor.login("park", Self.password)
        let parkList = try await kor.send("GET", "/api/v1/items", cookie: park.cookie)
        #expect((parkList.object["items"] as? [Any])?.isEmpty == true)
        let refused = try await kor.send("GET", "/api/v1/items/\(id)", cookie: park.cookie)
        #expect(refused.status == 403)
        #expect(refused.problem["article"] as? String == Article.access.citation)
        #expect(refused.problem["content_text"] == nil)
        // The refused reader learns the article, not the item's level or categories.
        #expect((refused.problem["detail"] as? String)?.contains("EAST-SEA") == false)
        #expect((refused.problem["detail"] as? String)?.contains("II") == false)
        let last = try await net[.kor].store.entry(at: try await net[.kor].store.size() - 1)
        #expect(last.kind == .accessRefused && last.detail.hasPrefix("park refused"))
        // An author may not write above their own clearance.
        var secret = Self.newItem
        secret["label"] = ["level": "I", "releasable_to": ["JPN"]]
        let above = try await kor.send("POST", "/api/v1/items", json: secret, cookie: park.cookie, csrf: park.csrf)
        #expect(above.status == 403)
        #expect(above.problem["article"] as? String == Article.access.citation)
        await Self.stop(net, clients)
    }

    @Test func releasingOfficersReleaseAndThePeerReadsBothMarkings() async throws {
        let (net, clients) = try await Self.start()
        let kor = clients[.kor]!, jpn = clients[.jpn]!
        let kim = try await kor.login("kim", Self.password)
        let created = try await kor.send("POST", "/api/v1/items", json: Self.newItem, cookie: kim.cookie, csrf: kim.csrf)
        let id = created.object["id"] as! String
        let release: [String: Any] = ["to": "JPN", "agreement": "gsomia-kor-jpn-2016"]
        // An analyst may not release.
        let byAnalyst = try await kor.send("POST", "/api/v1/items/\(id)/releases", json: release, cookie: kim.cookie, csrf: kim.csrf)
        #expect(byAnalyst.status == 403)
        #expect((byAnalyst.problem["detail"] as? String)?.contains("releasing-officer") == true)
        // To a party the label does not name: refused by the release policy, with the article.
        let lee = try await kor.login("lee", Self.password)
        let toUSA = try await kor.send(
            "POST", "/api/v1/items/\(id)/releases", json: ["to": "USA", "agreement": "gsomia-kor-usa-1987"], cookie: lee.cookie, csrf: lee.csrf)
        #expect(toUSA.status == 403 && toUSA.problem["article"] != nil, "the release policy refuses it, naming the article: \(toUSA.text)")
        #expect(try await net[.kor].store.outboxTasks(itemID: Hex.decode(id)!, before: nil, limit: 5).isEmpty, "nothing queued")
        // A releasing officer who may not read the item cannot release it: to them it is not there.
        try await net[.kor].accounts.add(
            "yun", .init(displayName: "Yun", roles: [.releasingOfficer], clearance: ("III", Date().addingTimeInterval(86_400)), categories: []),
            password: Self.password, by: "test")
        let yun = try await kor.login("yun", Self.password)
        let unreadable = try await kor.send("POST", "/api/v1/items/\(id)/releases", json: release, cookie: yun.cookie, csrf: yun.csrf)
        #expect(unreadable.status == 404, "\(unreadable.text)")
        #expect(try await net[.kor].store.outboxTasks(itemID: Hex.decode(id)!, before: nil, limit: 5).isEmpty)
        let released = try await kor.send("POST", "/api/v1/items/\(id)/releases", json: release, cookie: lee.cookie, csrf: lee.csrf)
        #expect(released.status == 202, "\(released.text)")
        // It arrives at JPN; sato reads it there with both markings (Art 4).
        let sato = try await jpn.login("sato", Self.password)
        var content: OperatorClient.Reply?
        for _ in 0..<300 {
            let r = try await jpn.send("GET", "/api/v1/items/\(id)", cookie: sato.cookie)
            if r.status == 200 {
                content = r
                break
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let item = try #require(content?.object["item"] as? [String: Any])
        #expect(content?.object["content_text"] as? String == "launch assessment 2026-11")
        let marking = item["marking"] as! [String: Any]
        #expect(marking["originator"] as? String == "KOR")
        #expect(marking["local_level"] as? String == "GOKUHI")
        #expect(item["source"] as? String == "received")
        // Peers and the ledger head are there for every user.
        let peers = try await kor.send("GET", "/api/v1/peers", cookie: kim.cookie)
        #expect(((peers.array as? [[String: Any]]) ?? []).contains { $0["party"] as? String == "JPN" })
        let head = try await kor.send("GET", "/api/v1/ledger/head", cookie: kim.cookie)
        #expect((head.object["size"] as? Int ?? 0) > 0)
        // The metrics count the delivery (once receipted), the refusals and the requests; they are for those who watch the node.
        #expect(try await kor.send("GET", "/metrics", cookie: kim.cookie).status == 403)
        let admin = try await kor.login("admin", Self.password)
        var metrics = ""
        for _ in 0..<100 {
            metrics = try await kor.send("GET", "/metrics", cookie: admin.cookie).text
            if metrics.contains("liaison_items_sent_total{peer=\"JPN\"} 1") { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(metrics.contains("liaison_items_sent_total{peer=\"JPN\"} 1"), "\(metrics)")
        #expect(metrics.contains("liaison_peer_sync_lag_seconds{peer=\"JPN\"}"))
        #expect(metrics.contains("liaison_ledger_size_entries"))
        #expect(metrics.contains("liaison_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/items/{id}/releases\""), "\(metrics)")
        #expect(metrics.contains("liaison_items_refused_total{reason="), "the refused release to USA is counted")
        #expect(metrics.contains("liaison_exchange_phase_duration_seconds_bucket{peer=\"JPN\",side=\"send\",phase=\"transport\""), "\(metrics)")
        #expect(try await kor.send("GET", "/metrics").status == 401)

        // The originator consents to JPN passing it to USA (Art 6(a)): signed at KOR, recorded at JPN.
        let consent: [String: Any] = ["holder": "JPN", "third_party": "USA", "purpose": "dprk-nuclear-missile", "days": 7]
        #expect(try await kor.send("POST", "/api/v1/items/\(id)/consents", json: consent, cookie: kim.cookie, csrf: kim.csrf).status == 403)
        // A consent is for a holder: USA never received this item.
        let notHolder = try await kor.send(
            "POST", "/api/v1/items/\(id)/consents", json: ["holder": "USA", "third_party": "JPN", "days": 7], cookie: lee.cookie, csrf: lee.csrf)
        #expect(notHolder.status == 409 && (notHolder.problem["detail"] as? String)?.contains("does not hold") == true, "\(notHolder.text)")
        let given = try await kor.send("POST", "/api/v1/items/\(id)/consents", json: consent, cookie: lee.cookie, csrf: lee.csrf)
        #expect(given.status == 201, "\(given.text)")
        let consentID = try #require(given.object["id"] as? String)
        var recordedAtJPN = false
        for _ in 0..<200 {
            let size = try await net[.jpn].store.size()
            if size > 0, try await (max(0, size - 20)..<size).asyncMap({ try await net[.jpn].store.entry(at: $0) }).contains(where: {
                $0.kind == .consentGiven && $0.detail.contains(consentID)
            }) {
                recordedAtJPN = true
                break
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(recordedAtJPN, "JPN's node records KOR's consent")
        // Only the originator consents: JPN cannot consent for KOR's item.
        try await net[.jpn].accounts.add(
            "ito", .init(displayName: "Ito", roles: [.releasingOfficer, .securityOfficer], clearance: ("KIMITSU", Date().addingTimeInterval(86_400)),
                categories: ["PROJECT:EAST-SEA"]), password: Self.password, by: "test")
        let ito = try await jpn.login("ito", Self.password)
        let notOriginator = try await jpn.send(
            "POST", "/api/v1/items/\(id)/consents", json: ["holder": "KOR", "third_party": "USA", "days": 7], cookie: ito.cookie, csrf: ito.csrf)
        #expect(notOriginator.status == 403)
        #expect(notOriginator.problem["article"] as? String == Article.thirdParty.citation)

        // JPN's security officer reports its copy lost (Art 17): marked compromised there, KOR told at once.
        #expect(
            try await jpn.send("POST", "/api/v1/items/\(id)/compromise", json: ["stage": "suspected", "description": "x"], cookie: sato.cookie, csrf: sato.csrf)
                .status == 403)
        let badStage = try await jpn.send(
            "POST", "/api/v1/items/\(id)/compromise", json: ["stage": "lost", "description": "x"], cookie: ito.cookie, csrf: ito.csrf)
        #expect(badStage.status == 400)
        let reported = try await jpn.send(
            "POST", "/api/v1/items/\(id)/compromise", json: ["stage": "suspected", "description": "laptop missing from the SCIF"], cookie: ito.cookie,
            csrf: ito.csrf)
        #expect(reported.status == 201, "\(reported.text)")
        #expect(try await net[.jpn].store.item(Hex.decode(id)!).holding.status == .compromised)
        var toldKOR = false
        for _ in 0..<200 {
            let size = try await net[.kor].store.size()
            if try await (max(0, size - 20)..<size).asyncMap({ try await net[.kor].store.entry(at: $0) }).contains(where: {
                $0.kind == .compromiseReported && $0.detail.contains("laptop missing")
            }) {
                toldKOR = true
                break
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(toldKOR, "KOR's node records JPN's report")
        // No alarm to acknowledge: a conflict, and only a security officer may try.
        #expect(try await jpn.send("POST", "/api/v1/peers/KOR/acknowledge", cookie: sato.cookie, csrf: sato.csrf).status == 403)
        let noAlarm = try await jpn.send("POST", "/api/v1/peers/KOR/acknowledge", cookie: ito.cookie, csrf: ito.csrf)
        #expect(noAlarm.status == 409, "\(noAlarm.status) \(noAlarm.text)")
        await Self.stop(net, clients)
    }

    /// Waits until `condition` holds (a peer's node acting on a statement).
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<200 {
            if try await condition() { return true }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return false
    }

    /// Art 17 as a workflow: JPN's security officer reports a suspected
    /// compromise of KOR's item and moves the same incident on; KOR's node
    /// keeps each report with its own copy (whose status stays held); both
    /// nodes list the incident; the stage only moves forward.
    @Test func incidentsMoveThroughTheirStagesAndReachTheOriginator() async throws {
        let (net, clients) = try await Self.start()
        let kor = clients[.kor]!, jpn = clients[.jpn]!
        let kim = try await kor.login("kim", Self.password), lee = try await kor.login("lee", Self.password)
        let created = try await kor.send("POST", "/api/v1/items", json: Self.newItem, cookie: kim.cookie, csrf: kim.csrf)
        let id = try #require(created.object["id"] as? String)
        let itemID = try #require(Hex.decode(id))
        let release: [String: Any] = ["to": "JPN", "agreement": "gsomia-kor-jpn-2016"]
        #expect(try await kor.send("POST", "/api/v1/items/\(id)/releases", json: release, cookie: lee.cookie, csrf: lee.csrf).status == 202)
        #expect(try await Self.eventually { (try? await net[.jpn].store.item(itemID)) != nil })
        try await net[.jpn].accounts.add(
            "mori", .init(displayName: "Mori", roles: [.securityOfficer], clearance: ("KIMITSU", Date().addingTimeInterval(86_400)), categories: ["PROJECT:EAST-SEA"]),
            password: Self.password, by: "test")
        try await net[.kor].accounts.add(
            "auditor", .init(displayName: "Audit", roles: [.auditor], clearance: ("II", Date().addingTimeInterval(86_400)), categories: ["PROJECT:EAST-SEA"]),
            password: Self.password, by: "test")
        try await net[.kor].accounts.add(
            "uncleared", .init(displayName: "Uncleared", roles: [.auditor], clearance: nil, categories: []), password: Self.password, by: "test")
        let mori = try await jpn.login("mori", Self.password), sato = try await jpn.login("sato", Self.password)
        let audit = try await kor.login("auditor", Self.password), uncleared = try await kor.login("uncleared", Self.password)
        let path = "/api/v1/items/\(id)/compromise"
        let first = try await jpn.send("POST", path, json: ["stage": "suspected", "description": "a laptop left on a train"], cookie: mori.cookie, csrf: mori.csrf)
        #expect(first.status == 201, "\(first.text)")
        let listed = try #require(try await jpn.send("GET", "/api/v1/incidents", cookie: mori.cookie).array as? [[String: Any]])
        let incident = try #require(listed.first?["incident"] as? String)
        #expect(listed.count == 1 && listed[0]["stage"] as? String == "suspected" && listed[0]["received"] as? Bool == false && listed[0]["item"] as? String == id)
        // The same incident moves on; it cannot move back, and an unknown one is not there.
        let later = try await jpn.send(
            "POST", path, json: ["stage": "investigating", "description": "the laptop's disk was encrypted", "incident": incident], cookie: mori.cookie,
            csrf: mori.csrf)
        #expect(later.status == 201, "\(later.text)")
        let back = try await jpn.send("POST", path, json: ["stage": "suspected", "description": "again", "incident": incident], cookie: mori.cookie, csrf: mori.csrf)
        #expect(back.status == 409 && (back.problem["detail"] as? String ?? "").contains("later stage"), "\(back.text)")
        let unknown = try await jpn.send(
            "POST", path, json: ["stage": "findings", "description": "x", "incident": "jpn-incident-00000000"], cookie: mori.cookie, csrf: mori.csrf)
        #expect(unknown.status == 404, "\(unknown.text)")
        #expect(try await jpn.send("GET", "/api/v1/incidents", cookie: sato.cookie).status == 403, "an analyst does not see incidents")
        #expect(try await jpn.send("GET", "/api/v1/incidents?before=zero", cookie: mori.cookie).status == 400)
        let atJPN = try #require(try await jpn.send("GET", "/api/v1/incidents", cookie: mori.cookie).array as? [[String: Any]])
        #expect(atJPN.map { $0["stage"] as? String } == ["investigating", "suspected"] && Set(atJPN.map { $0["incident"] as? String }) == [incident])
        let older = try #require(try await jpn.send("GET", "/api/v1/incidents?limit=1&before=\(atJPN[0]["sequence"] as! Int)", cookie: mori.cookie).array)
        #expect(older.count == 1)
        // KOR, the originator, keeps both reports with its copy and lists them as received.
        #expect(
            try await Self.eventually {
                try await net[.kor].store.holdingEvents(itemID).filter { $0.kind == .compromised }.count == 2
            }, "KOR's node records both reports")
        #expect(try await net[.kor].store.item(itemID).holding.status == .held)
        let atKOR = try #require(try await kor.send("GET", "/api/v1/incidents", cookie: audit.cookie).array as? [[String: Any]])
        #expect(atKOR.count == 2 && atKOR.allSatisfy { $0["received"] as? Bool == true && $0["reporter"] as? String == "JPN" && $0["incident"] as? String == incident })
        // Reports are listed only to those who may read the item (Art 7).
        #expect(try await kor.send("GET", "/api/v1/incidents", cookie: uncleared.cookie).array?.count == 0)
        await Self.stop(net, clients)
    }

    /// KOR, JPN and USA running; at JPN a releasing officer "ito", at KOR a
    /// releasing officer "lee"; an item JPN originated (HI, releasable to KOR
    /// and USA) delivered to KOR. Returns the item's id.
    static func startWithJPNItemAtKOR() async throws -> (LocalFederation, [Party: OperatorClient], String) {
        let net = try await LocalFederation.start(parties: [.kor, .jpn, .usa], examples: Fixtures.examplesDirectory, logger: logger) { s in
            s.accounts.bcryptCost = 4
        }
        let year = Date().addingTimeInterval(365 * 86_400)
        try await net[.jpn].accounts.add(
            "ito", .init(displayName: "Ito", roles: [.analyst, .releasingOfficer], clearance: ("KIMITSU", year), categories: []), password: password,
            by: "test")
        try await net[.kor].accounts.add(
            "lee", .init(displayName: "Lee", roles: [.releasingOfficer], clearance: ("II", year), categories: []), password: password, by: "test")
        var clients: [Party: OperatorClient] = [:]
        for p in [Party.kor, .jpn] {
            clients[p] = try OperatorClient(port: await net[p].consolePort(), root: "\(net.directory)/\(p.code.lowercased())/tls-root-ca.pem", party: p)
        }
        let jpn = clients[.jpn]!
        let ito = try await jpn.login("ito", password)
        let item: [String: Any] = [
            "label": ["level": "HI", "releasable_to": ["KOR", "USA"], "purpose": "dprk-nuclear-missile"], "media_type": "text/plain",
            "content_text": "track of a launch, <b>2026-12</b>",
        ]
        let created = try await jpn.send("POST", "/api/v1/items", json: item, cookie: ito.cookie, csrf: ito.csrf)
        let id = try #require(created.object["id"] as? String, "\(created.text)")
        let itemID = try #require(Hex.decode(id))
        let toKOR: [String: Any] = ["to": "KOR", "agreement": "gsomia-kor-jpn-2016"]
        #expect(try await jpn.send("POST", "/api/v1/items/\(id)/releases", json: toKOR, cookie: ito.cookie, csrf: ito.csrf).status == 202)
        #expect(try await eventually { (try? await net[.kor].store.item(itemID)) != nil }, "KOR holds JPN's item")
        return (net, clients, id)
    }

    /// The third-party rule through the operator API (Art 6(a)): KOR holds
    /// JPN's item and may not pass it to the US hub; JPN's releasing officer
    /// consents; KOR's node keeps the consent, and KOR's next release to
    /// USA carries it and is delivered, USA checking it again.
    @Test func aHolderPassesAnItemOnWithTheConsentItKept() async throws {
        let (net, clients, id) = try await Self.startWithJPNItemAtKOR()
        let kor = clients[.kor]!, jpn = clients[.jpn]!
        let itemID = try #require(Hex.decode(id))
        let ito = try await jpn.login("ito", Self.password), lee = try await kor.login("lee", Self.password)
        let toUSA: [String: Any] = ["to": "USA", "agreement": "tisa-2014"]
        let refused = try await kor.send("POST", "/api/v1/items/\(id)/releases", json: toUSA, cookie: lee.cookie, csrf: lee.csrf)
        #expect(refused.status == 403 && refused.problem["article"] as? String == Article.thirdParty.citation, "\(refused.text)")
        // JPN consents to KOR passing it to USA; KOR's node keeps the consent.
        let consent: [String: Any] = ["holder": "KOR", "third_party": "USA", "days": 7, "purpose": "dprk-nuclear-missile"]
        let given = try await jpn.send("POST", "/api/v1/items/\(id)/consents", json: consent, cookie: ito.cookie, csrf: ito.csrf)
        #expect(given.status == 201, "\(given.text)")
        let digest = try await net[.kor].store.item(itemID).manifest.digest
        #expect(try await Self.eventually { try await net[.kor].store.consents(itemDigest: digest).count == 1 }, "KOR's node keeps the consent")
        let kept = try await net[.kor].store.consents(itemDigest: digest)[0]
        #expect(kept.id == given.object["id"] as? String && kept.originator == .jpn && kept.holder == .kor && kept.thirdParty == .usa)
        // KOR's release now carries it; USA receives the item.
        let passed = try await kor.send("POST", "/api/v1/items/\(id)/releases", json: toUSA, cookie: lee.cookie, csrf: lee.csrf)
        #expect(passed.status == 202, "\(passed.text)")
        #expect(try await Self.eventually { (try? await net[.usa].store.item(itemID)) != nil }, "USA holds JPN's item, passed on by KOR")
        #expect(try await net[.usa].store.item(itemID).holding.source == .received(from: .kor, agreement: "tisa-2014"))
        // The page of the item at KOR shows the consent it keeps.
        let page = try await kor.send("GET", "/items/\(id)", cookie: lee.cookie)
        #expect(page.text.contains(kept.id), "\(page.status)")
        await Self.stop(net, clients)
    }

    /// A release of many items at once (as the TAXII gateway makes) carries
    /// the consents kept for each as a single release does: refused before
    /// JPN consents, queued with the consent and delivered after.
    @Test func aBatchReleaseCarriesTheConsentsKeptForEachItem() async throws {
        let (net, clients, id) = try await Self.startWithJPNItemAtKOR()
        let jpn = clients[.jpn]!
        let itemID = try #require(Hex.decode(id))
        let ito = try await jpn.login("ito", Self.password)
        let before = try await net[.kor].federation.release([itemID], to: .usa, agreement: "tisa-2014")
        #expect(before.queued.isEmpty && before.refused.first?.refusal.article == .thirdParty, "\(before.refused)")
        let consent: [String: Any] = ["holder": "KOR", "third_party": "USA", "days": 7, "purpose": "dprk-nuclear-missile"]
        #expect(try await jpn.send("POST", "/api/v1/items/\(id)/consents", json: consent, cookie: ito.cookie, csrf: ito.csrf).status == 201)
        let digest = try await net[.kor].store.item(itemID).manifest.digest
        #expect(try await Self.eventually { try await net[.kor].store.consents(itemDigest: digest).count == 1 }, "KOR's node keeps the consent")
        let after = try await net[.kor].federation.release([itemID], to: .usa, agreement: "tisa-2014")
        #expect(after.refused.isEmpty && after.queued.count == 1, "\(after.refused)")
        #expect(after.queued.first?.consents.count == 1)
        #expect(try await Self.eventually { (try? await net[.usa].store.item(itemID)) != nil }, "USA holds JPN's item, passed on by KOR")
        await Self.stop(net, clients)
    }

    /// The consent queue (Art 6(a)): KOR, holding JPN's item, asks JPN to
    /// let it pass the item to USA; JPN's releasing officer denies, then
    /// grants a second request; KOR sees each answer, keeps the consent,
    /// and its release to USA is delivered. Each answer is given once.
    @Test func holdersAskOriginatorsGrantOrDenyAndTheAnswerReachesTheHolder() async throws {
        let (net, clients, id) = try await Self.startWithJPNItemAtKOR()
        let kor = clients[.kor]!, jpn = clients[.jpn]!
        let itemID = try #require(Hex.decode(id))
        try await net[.kor].accounts.add(
            "kim", .init(displayName: "Kim", roles: [.analyst], clearance: ("II", Date().addingTimeInterval(86_400)), categories: []),
            password: Self.password, by: "test")
        try await net[.kor].accounts.add(
            "nam", .init(displayName: "Nam", roles: [.releasingOfficer], clearance: nil, categories: []), password: Self.password, by: "test")
        let ito = try await jpn.login("ito", Self.password), lee = try await kor.login("lee", Self.password), kim = try await kor.login("kim", Self.password)
        let nam = try await kor.login("nam", Self.password)
        let ask: [String: Any] = ["third_party": "USA", "purpose": "dprk-nuclear-missile", "reason": "the hub's analysts need the track"]
        let path = "/api/v1/items/\(id)/consent-requests"
        #expect(try await kor.send("POST", path, json: ask, cookie: kim.cookie, csrf: kim.csrf).status == 403, "an analyst does not ask")
        #expect(try await kor.send("POST", path, json: ["third_party": "JPN", "reason": "x"], cookie: lee.cookie, csrf: lee.csrf).status == 409)
        #expect(try await kor.send("POST", path, json: ["third_party": "Korea", "reason": "x"], cookie: lee.cookie, csrf: lee.csrf).status == 400)
        #expect(try await jpn.send("POST", path, json: ask, cookie: ito.cookie, csrf: ito.csrf).status == 409, "the originator needs no consent")
        // First request: denied.
        let first = try await kor.send("POST", path, json: ask, cookie: lee.cookie, csrf: lee.csrf)
        #expect(first.status == 201 && first.object["state"] as? String == "pending" && first.object["direction"] as? String == "sent", "\(first.text)")
        let firstID = try #require(first.object["id"] as? String)
        #expect(
            try await Self.eventually {
                (try await jpn.send("GET", "/api/v1/consent-requests?state=pending", cookie: ito.cookie).array as? [[String: Any]])?
                    .contains { $0["id"] as? String == firstID && $0["direction"] as? String == "received" } == true
            }, "JPN's queue holds KOR's request")
        #expect(try await jpn.send("GET", "/api/v1/consent-requests?state=maybe", cookie: ito.cookie).status == 400)
        #expect(try await kor.send("POST", "/api/v1/consent-requests/\(firstID)/grant", json: ["days": 7], cookie: lee.cookie, csrf: lee.csrf).status == 409,
                "the holder does not answer its own request")
        #expect(try await jpn.send("POST", "/api/v1/consent-requests/\(firstID)/grant", json: ["days": 0], cookie: ito.cookie, csrf: ito.csrf).status == 400)
        #expect(try await jpn.send("POST", "/api/v1/consent-requests/nothing-here/deny", json: ["reason": "x"], cookie: ito.cookie, csrf: ito.csrf).status == 404)
        let denied = try await jpn.send(
            "POST", "/api/v1/consent-requests/\(firstID)/deny", json: ["reason": "not before the summit"], cookie: ito.cookie, csrf: ito.csrf)
        #expect(denied.status == 200 && denied.object["state"] as? String == "denied", "\(denied.text)")
        #expect(try await jpn.send("POST", "/api/v1/consent-requests/\(firstID)/grant", json: ["days": 7], cookie: ito.cookie, csrf: ito.csrf).status == 409,
                "answered once")
        #expect(
            try await Self.eventually { try await net[.kor].store.consentRequest(firstID).state == .denied }, "KOR learns of the denial")
        #expect(try await net[.kor].store.consentRequest(firstID).answer == "not before the summit")
        let toUSA: [String: Any] = ["to": "USA", "agreement": "tisa-2014"]
        #expect(try await kor.send("POST", "/api/v1/items/\(id)/releases", json: toUSA, cookie: lee.cookie, csrf: lee.csrf).status == 403)
        // Second request: granted; KOR keeps the consent and passes the item on.
        let second = try #require(try await kor.send("POST", path, json: ask, cookie: lee.cookie, csrf: lee.csrf).object["id"] as? String)
        #expect(try await Self.eventually { (try? await net[.jpn].store.consentRequest(second)) != nil })
        let granted = try await jpn.send("POST", "/api/v1/consent-requests/\(second)/grant", json: ["days": 7], cookie: ito.cookie, csrf: ito.csrf)
        #expect(granted.status == 201 && granted.object["state"] as? String == "granted", "\(granted.text)")
        let consentID = try #require(granted.object["answer"] as? String)
        #expect(try await Self.eventually { try await net[.kor].store.consentRequest(second).state == .granted }, "KOR learns of the grant")
        #expect(try await net[.kor].store.consentRequest(second).answer == consentID)
        let atKOR = try #require(try await kor.send("GET", "/api/v1/consent-requests", cookie: lee.cookie).array as? [[String: Any]])
        #expect(atKOR.map { $0["state"] as? String } == ["granted", "denied"])
        #expect(try await kor.send("GET", "/api/v1/consent-requests", cookie: nam.cookie).array?.count == 0, "only requests about items the officer may read")
        #expect(try await kor.send("POST", "/api/v1/items/\(id)/releases", json: toUSA, cookie: lee.cookie, csrf: lee.csrf).status == 202)
        #expect(try await Self.eventually { (try? await net[.usa].store.item(itemID)) != nil }, "USA holds the item")
        await Self.stop(net, clients)
    }

    /// Either side can prove what was recorded: an auditor fetches an entry
    /// with its inclusion proof and a consistency proof, and checks both
    /// against the signed head on their own (RFC 9162).
    @Test func auditorsProveLedgerEntriesThemselves() async throws {
        let (net, clients) = try await Self.start()
        let kor = clients[.kor]!
        try await net[.kor].accounts.add(
            "audit", .init(displayName: "Audit", roles: [.auditor], clearance: nil, categories: []), password: Self.password, by: "test")
        let audit = try await kor.login("audit", Self.password), kim = try await kor.login("kim", Self.password)
        _ = try await kor.send("POST", "/api/v1/items", json: Self.newItem, cookie: kim.cookie, csrf: kim.csrf)
        #expect(try await Self.eventually { (try await net[.kor].store.latestTreeHead()?.body.size ?? 0) >= 4 }, "a checkpoint signs the ledger")
        let signing = try NodeDirectory(path: net[.kor].settings.directory).load().signing
        var trust = TrustStore()
        trust.pin(signing.verifyingKey, of: .kor)
        let proven = try await kor.send("GET", "/api/v1/ledger/entries/2", cookie: audit.cookie)
        #expect(proven.status == 200, "\(proven.text)")
        let o = proven.object
        let entry = try #require(Data(base64Encoded: o["entry"] as? String ?? "")).map { $0 }
        let head = try SignedTreeHead(canonical: try #require(Data(base64Encoded: o["tree_head"] as? String ?? "")).map { $0 })
        _ = try head.verified(by: trust)
        let path = AuditPath(try #require(o["inclusion_proof"] as? [String]).map { try #require(Hex.decode($0)) })
        #expect(MerkleHash.root(fromLeaf: MerkleHash.leaf(entry), index: 2, size: head.body.size, path: path) == head.body.root)
        #expect(try LedgerEntry(canonical: entry).detail == o["detail"] as? String)
        #expect(o["tree_size"] as? Int == head.body.size && o["root"] as? String == Hex.encode(head.body.root))
        // A consistency proof from an older size to the head.
        let older = try await net[.kor].store.root(size: 2)
        let consistency = try await kor.send("GET", "/api/v1/ledger/consistency?from=2&to=\(head.body.size)", cookie: audit.cookie)
        #expect(consistency.status == 200, "\(consistency.text)")
        let hashes = try #require(consistency.object["proof"] as? [String]).map { try #require(Hex.decode($0)) }
        #expect(MerkleLog.verifyConsistency(old: 2, new: head.body.size, oldRoot: older, newRoot: head.body.root, proof: hashes))
        #expect(consistency.object["to_tree_head"] as? String == consistency.object["tree_head"] as? String, "to the latest size: its head")
        // To an older size: the head signed there comes with the proof, so the proof checks against a signed root.
        _ = try await kor.send("POST", "/api/v1/items", json: Self.newItem, cookie: kim.cookie, csrf: kim.csrf)
        #expect(try await Self.eventually { (try await net[.kor].store.latestTreeHead()?.body.size ?? 0) > head.body.size }, "a later head")
        let toOlder = try await kor.send("GET", "/api/v1/ledger/consistency?from=2&to=\(head.body.size)", cookie: audit.cookie)
        #expect(toOlder.status == 200, "\(toOlder.text)")
        let atTo = try SignedTreeHead(canonical: try #require(Data(base64Encoded: toOlder.object["to_tree_head"] as? String ?? "")).map { $0 })
        _ = try atTo.verified(by: trust)
        #expect(atTo == head && toOlder.object["tree_head"] as? String != toOlder.object["to_tree_head"] as? String)
        let olderHashes = try #require(toOlder.object["proof"] as? [String]).map { try #require(Hex.decode($0)) }
        #expect(MerkleLog.verifyConsistency(old: 2, new: atTo.body.size, oldRoot: older, newRoot: atTo.body.root, proof: olderHashes))
        // A size no head was signed at: the proof, and no head at `to`.
        var unsigned = 1
        while try await net[.kor].store.treeHead(size: unsigned) != nil { unsigned += 1 }
        if unsigned > 2, unsigned < head.body.size {
            let bare = try await kor.send("GET", "/api/v1/ledger/consistency?from=2&to=\(unsigned)", cookie: audit.cookie)
            #expect(bare.status == 200 && bare.object["to_tree_head"] == nil, "\(bare.text)")
        }
        // Refusals: another role, no such entry, a size beyond the head, bad input.
        #expect(try await kor.send("GET", "/api/v1/ledger/entries/2", cookie: kim.cookie).status == 403)
        #expect(try await kor.send("GET", "/api/v1/ledger/entries/999999", cookie: audit.cookie).status == 404)
        #expect(try await kor.send("GET", "/api/v1/ledger/entries/two", cookie: audit.cookie).status == 400)
        #expect(try await kor.send("GET", "/api/v1/ledger/consistency?from=0&to=2", cookie: audit.cookie).status == 400)
        #expect(try await kor.send("GET", "/api/v1/ledger/consistency?from=2&to=999999", cookie: audit.cookie).status == 400)
        await Self.stop(net, clients)
    }

    @Test func originatorsReclassifyAndHoldersDestroy() async throws {
        let (net, clients) = try await Self.start()
        let kor = clients[.kor]!, jpn = clients[.jpn]!
        let kim = try await kor.login("kim", Self.password), lee = try await kor.login("lee", Self.password)
        let created = try await kor.send("POST", "/api/v1/items", json: Self.newItem, cookie: kim.cookie, csrf: kim.csrf)
        let id = try #require(created.object["id"] as? String)
        let itemID = try #require(Hex.decode(id))
        let release: [String: Any] = ["to": "JPN", "agreement": "gsomia-kor-jpn-2016"]
        #expect(try await kor.send("POST", "/api/v1/items/\(id)/releases", json: release, cookie: lee.cookie, csrf: lee.csrf).status == 202)
        #expect(try await Self.eventually { (try? await net[.jpn].store.item(itemID)) != nil })
        // The originator reclassifies II → III: re-marked here, and at JPN when the notice arrives (Art 6(g)).
        #expect(try await kor.send("POST", "/api/v1/items/\(id)/reclassify", json: ["level": "III", "reason": "x"], cookie: kim.cookie, csrf: kim.csrf).status == 403)
        let unknown = try await kor.send("POST", "/api/v1/items/\(id)/reclassify", json: ["level": "TOP", "reason": "x"], cookie: lee.cookie, csrf: lee.csrf)
        #expect(unknown.status == 403 && unknown.problem["article"] as? String == Article.reclassification.citation, "\(unknown.text)")
        let reclassified = try await kor.send(
            "POST", "/api/v1/items/\(id)/reclassify", json: ["level": "III", "reason": "the source was downgraded"], cookie: lee.cookie, csrf: lee.csrf)
        #expect(reclassified.status == 201, "\(reclassified.text)")
        #expect(try await net[.kor].store.item(itemID).holding.label.level == "III")
        #expect(try await Self.eventually { try await net[.jpn].store.item(itemID).holding.label.level == "III" }, "JPN re-marks it")
        // JPN's security officer destroys its copy; KOR receives the certificate (Art 6(h), 13).
        try await net[.jpn].accounts.add(
            "mori", .init(displayName: "Mori", roles: [.securityOfficer], clearance: ("KIMITSU", Date().addingTimeInterval(86_400)), categories: ["PROJECT:EAST-SEA"]),
            password: Self.password, by: "test")
        let mori = try await jpn.login("mori", Self.password), sato = try await jpn.login("sato", Self.password)
        #expect(try await jpn.send("POST", "/api/v1/items/\(id)/destroy", json: ["method": "shredded"], cookie: sato.cookie, csrf: sato.csrf).status == 403)
        let destroyed = try await jpn.send("POST", "/api/v1/items/\(id)/destroy", json: ["method": "degaussed and shredded"], cookie: mori.cookie, csrf: mori.csrf)
        #expect(destroyed.status == 201, "\(destroyed.text)")
        let atJPN = try await net[.jpn].store.item(itemID)
        #expect(atJPN.payload == nil && atJPN.holding.status == .destroyed)
        #expect(try await jpn.send("POST", "/api/v1/items/\(id)/destroy", json: ["method": "again"], cookie: mori.cookie, csrf: mori.csrf).status == 409)
        #expect(
            try await Self.eventually {
                let size = try await net[.kor].store.size()
                return try await (max(0, size - 10)..<size).asyncMap { try await net[.kor].store.entry(at: $0) }.contains {
                    $0.kind == .destroyed && $0.detail.contains("degaussed")
                }
            }, "KOR's node records JPN's certificate")
        await Self.stop(net, clients)
    }

    /// Art 21 through the API: a security officer issues KOR's withdrawal of
    /// its 2019 notice; the rules refuse an act on a notice that does not
    /// exist, naming the article; other roles and bad input are refused;
    /// JPN's node records the statement and its agreement is back to normal.
    @Test func securityOfficersIssueLifecycleStatementsThatThePeerRecords() async throws {
        let (net, clients) = try await Self.start()
        let kor = clients[.kor]!
        try await net[.kor].accounts.add(
            "choi", .init(displayName: "Choi Security", roles: [.securityOfficer], clearance: ("II", Date().addingTimeInterval(86_400)), categories: []),
            password: Self.password, by: "test")
        let choi = try await kor.login("choi", Self.password), kim = try await kor.login("kim", Self.password)
        let lee = try await kor.login("lee", Self.password)
        let kj = "gsomia-kor-jpn-2016", path = "/api/v1/agreements/gsomia-kor-jpn-2016/statements"
        let listed = try await kor.send("GET", path, cookie: kim.cookie)
        #expect(listed.status == 200 && (listed.array?.count ?? 0) == 4, "\(listed.text)")
        #expect(try await kor.send("GET", "/api/v1/agreements/gsomia-jpn-usa-2007/statements", cookie: kim.cookie).status == 404, "KOR is not a party")
        #expect(try await kor.send("GET", path).status == 401)
        let withdrawal: [String: Any] = ["act": "notice-withdrawal", "notice": "kor-notice-2019", "note": "normalised, 21 March 2023"]
        for who in [kim, lee] { #expect(try await kor.send("POST", path, json: withdrawal, cookie: who.cookie, csrf: who.csrf).status == 403) }
        func refused(_ body: [String: Any], _ status: UInt, _ detail: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let r = try await kor.send("POST", path, json: body, cookie: choi.cookie, csrf: choi.csrf)
            #expect(r.status == status && (r.problem["detail"] as? String ?? "").contains(detail), "\(r.status) \(r.text)", sourceLocation: sourceLocation)
        }
        try await refused(["act": "surrender"], 400, "act is one of")
        try await refused(["act": "notice-withdrawal"], 400, "needs notice")
        try await refused(["act": "termination-notice", "notice": "kor-notice-2019"], 400, "takes no notice")
        try await refused(["act": "notice-withdrawal", "notice": "Not An Id"], 400, "not a valid identifier")
        try await refused(["act": "notice-withdrawal", "notice": "kor-notice-2019", "colour": "red"], 400, "colour is not a field")
        let unknown = try await kor.send("POST", path, json: ["act": "notice-withdrawal", "notice": "kor-notice-2031"], cookie: choi.cookie, csrf: choi.csrf)
        #expect(unknown.status == 403 && (unknown.problem["article"] as? String ?? "").contains("21"), "\(unknown.text)")
        #expect(try await kor.send("GET", path, cookie: kim.cookie).array?.count == 4, "nothing was recorded")
        #expect(try await net[.kor].store.unacknowledgedStatements(peer: nil).isEmpty, "nothing was sent")
        // Accepted: signed, recorded, sent; the agreement is in force and renews normally again.
        let issued = try await kor.send("POST", path, json: withdrawal, cookie: choi.cookie, csrf: choi.csrf)
        #expect(issued.status == 201, "\(issued.text)")
        let id = try #require(issued.object["id"] as? String)
        #expect(issued.object["act"] as? String == "notice-withdrawal" && issued.object["notice"] as? String == "kor-notice-2019")
        #expect((issued.object["tasks"] as? [Any])?.count == 1 && issued.object["ledger_entry"] is Int)
        let after = try #require(try await kor.send("GET", path, cookie: kim.cookie).array as? [[String: Any]])
        #expect(after.contains { $0["id"] as? String == id && $0["party"] as? String == "KOR" })
        #expect(net[.kor].federation.book[kj]?.status(at: Date()).phase == .inForce)
        let entry = try await net[.kor].store.entry(at: try #require(issued.object["ledger_entry"] as? Int))
        #expect(entry.kind == .lifecycleStatement && entry.detail.contains("issued by choi"))
        #expect(
            try await Self.eventually { net[.jpn].federation.book[kj]?.accepted.contains { $0.id == id } == true }, "JPN's node records KOR's statement")
        #expect(net[.jpn].federation.book[kj]?.status(at: Date()).phase == .inForce)
        // The same act again is refused by the rules: the notice is withdrawn already.
        let again = try await kor.send("POST", path, json: withdrawal, cookie: choi.cookie, csrf: choi.csrf)
        #expect(again.status == 403 && again.problem["article"] != nil, "\(again.text)")
        await Self.stop(net, clients)
    }

    @Test func badInputIsRefusedSpecificallyAndChangesNothing() async throws {
        let (net, clients) = try await Self.start()
        let kor = clients[.kor]!
        let kim = try await kor.login("kim", Self.password)
        let size = try await net[.kor].store.size()
        func refused(_ body: Any, _ status: UInt, _ detail: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let r = try await kor.send("POST", "/api/v1/items", json: body, cookie: kim.cookie, csrf: kim.csrf)
            #expect(r.status == status, "\(r.text)", sourceLocation: sourceLocation)
            #expect((r.problem["detail"] as? String)?.contains(detail) == true, "\(r.text)", sourceLocation: sourceLocation)
        }
        var noLevel = Self.newItem
        noLevel["label"] = ["releasable_to": ["JPN"]]
        try await refused(noLevel, 400, "label.level is required")
        var badLevel = Self.newItem
        badLevel["label"] = ["level": "TOP", "releasable_to": ["JPN"]]
        try await refused(badLevel, 400, "TOP is not a level of KOR's scheme")
        var badParty = Self.newItem
        badParty["label"] = ["level": "II", "releasable_to": ["japan"]]
        try await refused(badParty, 400, "not a party code")
        var misspelt = Self.newItem
        misspelt["label"] = ["level": "II", "releasable_to": ["JPN"], "categories": [["tag": "PROJECT", "kind": "RESTRICTIVE", "values": ["X"], "colour": "red"]]]
        try await refused(misspelt, 400, "label.categories[0].colour is not a field of this request")
        var extra = Self.newItem
        extra["title"] = "a title"
        try await refused(extra, 400, "title is not a field of this request")
        var both = Self.newItem
        both["content_base64"] = "AAAA"
        try await refused(both, 400, "one of them")
        var foreign = Self.newItem
        foreign["label"] = ["level": "II", "originator": "JPN", "releasable_to": ["KOR"]]
        try await refused(foreign, 400, "originates KOR's items only")
        let notJSON = try await kor.send("POST", "/api/v1/items", raw: Array("{\"label\":".utf8), cookie: kim.cookie, csrf: kim.csrf)
        #expect(notJSON.status == 400)
        // A form cannot log in to the API (no cross-site login without a preflight).
        let formLogin = try await kor.form("/api/v1/session", ["name": "kim", "password": Self.password])
        #expect(formLogin.status == 400)
        let huge = try await kor.send(
            "POST", "/api/v1/items", raw: [UInt8](repeating: 0x20, count: 13 << 20), cookie: kim.cookie, csrf: kim.csrf)
        #expect(huge.status == 413)
        let badID = try await kor.send("GET", "/api/v1/items/not-an-id", cookie: kim.cookie)
        #expect(badID.status == 400)
        let missing = try await kor.send("GET", "/api/v1/items/\(String(repeating: "0", count: 32))", cookie: kim.cookie)
        #expect(missing.status == 404)
        #expect(try await net[.kor].store.holdings(after: nil, limit: 10).isEmpty)
        #expect(try await net[.kor].store.size() == size)
        await Self.stop(net, clients)
    }

    @Test func tokensWorkWithoutCSRFAndStopWhenTheUserIsDisabled() async throws {
        let (net, clients) = try await Self.start()
        let kor = clients[.kor]!
        let kim = try await kor.login("kim", Self.password)
        let issued = try await kor.send("POST", "/api/v1/tokens", json: ["name": "feed", "lifetime_days": 30], cookie: kim.cookie, csrf: kim.csrf)
        #expect(issued.status == 201)
        let token = try #require(issued.object["token"] as? String)
        // The secret is kept only as a hash.
        let stored = try await net[.kor].store.apiTokens(user: "kim")
        #expect(stored.count == 1 && !stored[0].tokenHash.isEmpty)
        #expect(try await kor.send("POST", "/api/v1/items", json: Self.newItem, bearer: token).status == 201)
        // A token cannot mint another; a read-only token cannot write.
        #expect(try await kor.send("POST", "/api/v1/tokens", json: ["name": "more"], bearer: token).status == 403)
        let readOnly = try await kor.send(
            "POST", "/api/v1/tokens", json: ["name": "reader", "scopes": ["read"]], cookie: kim.cookie, csrf: kim.csrf)
        let readToken = try #require(readOnly.object["token"] as? String)
        #expect(try await kor.send("GET", "/api/v1/items", bearer: readToken).status == 200)
        let write = try await kor.send("POST", "/api/v1/items", json: Self.newItem, bearer: readToken)
        #expect(write.status == 403 && (write.problem["detail"] as? String)?.contains("no write scope") == true)
        #expect(try await kor.send("POST", "/api/v1/tokens", json: ["name": "x", "scopes": ["admin"]], cookie: kim.cookie, csrf: kim.csrf).status == 400)
        // Administrators manage users; others may not.
        let admin = try await kor.login("admin", Self.password)
        let byKim = try await kor.send("PATCH", "/api/v1/users/park", json: ["disabled": true], cookie: kim.cookie, csrf: kim.csrf)
        #expect(byKim.status == 403)
        let disable = try await kor.send("PATCH", "/api/v1/users/kim", json: ["disabled": true], cookie: admin.cookie, csrf: admin.csrf)
        #expect(disable.status == 200)
        #expect(try await kor.send("GET", "/api/v1/me", bearer: token).status == 401)
        #expect(try await kor.send("GET", "/api/v1/me", cookie: kim.cookie).status == 401)
        // An administrator adds a user; a clearance outside the scheme is refused.
        let added = try await kor.send(
            "POST", "/api/v1/users",
            json: ["name": "choi", "display_name": "Choi", "roles": ["auditor"], "clearance": ["level": "III", "expires": "2030-01-01T00:00:00Z"]],
            cookie: admin.cookie, csrf: admin.csrf)
        #expect(added.status == 201, "\(added.text)")
        let bad = try await kor.send(
            "POST", "/api/v1/users",
            json: ["name": "yoon", "display_name": "Yoon", "roles": ["analyst"], "clearance": ["level": "GOKUHI", "expires": "2030-01-01T00:00:00Z"]],
            cookie: admin.cookie, csrf: admin.csrf)
        #expect(bad.status == 400)
        #expect((bad.problem["detail"] as? String)?.contains("not a level of KOR's scheme") == true)
        let entries = try await (0..<net[.kor].store.size()).asyncMap { try await net[.kor].store.entry(at: $0) }
        #expect(entries.contains { $0.kind == .userChanged && $0.detail == "user kim disabled by admin" })
        #expect(entries.contains { $0.kind == .userChanged && $0.detail.hasPrefix("user choi created by admin") })
        await Self.stop(net, clients)
    }
}

extension Range where Bound == Int {
    func asyncMap<T>(_ f: (Int) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for i in self { out.append(try await f(i)) }
        return out
    }
}

/// A client of one node's operator API, trusting only the node's own root CA.
/// A body made as the client pulls it, counting what it pulled.
final class PulledBytes: Sendable {
    private let count = Mutex<Int64>(0)
    var value: Int64 { count.withLock { $0 } }
    struct Body: AsyncSequence, Sendable {
        let total: Int64
        let pulled: PulledBytes
        struct AsyncIterator: AsyncIteratorProtocol {
            let total: Int64
            let pulled: PulledBytes
            var sent: Int64 = 0
            mutating func next() async -> ByteBuffer? {
                guard sent < total else { return nil }
                let n = Swift.min(Int64(1 << 20), total - sent)
                sent += n
                let now = sent
                pulled.count.withLock { $0 = now }
                return ByteBuffer(repeating: 0x20, count: Int(n))
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(total: total, pulled: pulled) }
    }
}

struct OperatorClient {
    let http: HTTPClient
    let base: String
    let cookieName: String

    init(port: Int, root: String, party: Party) throws {
        cookieName = OperatorAPI.sessionCookie(party)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(root))
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        configuration.redirectConfiguration = .disallow
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        base = "https://127.0.0.1:\(port)"
    }

    struct Reply {
        let status: UInt
        let contentType: String?
        let body: [UInt8]
        let cookies: [String]
        var headers: [String: String] = [:]
        var location: String? { headers["Location"] ?? headers["location"] }
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body)) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var array: [Any]? { json as? [Any] }
        var problem: [String: Any] { contentType == "application/problem+json" ? object : [:] }
    }

    struct Login {
        let cookie: String
        let csrf: String
        let user: (name: String, roles: [String])
    }

    func login(_ name: String, _ password: String) async throws -> Login {
        let r = try await send("POST", "/api/v1/session", json: ["name": name, "password": password])
        guard r.status == 201 else { throw OperatorError(.unauthenticated, "login of \(name): \(r.status) \(r.text)") }
        let cookie = try #require(r.cookies.first { $0.hasPrefix(cookieName + "=") })
        #expect(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Strict"))
        let value = String(cookie.split(separator: ";")[0].dropFirst(cookieName.count + 1))
        let user = r.object["user"] as! [String: Any]
        return Login(cookie: value, csrf: r.object["csrf_token"] as! String, user: (user["name"] as! String, user["roles"] as! [String]))
    }

    func send(
        _ method: String, _ path: String, json: Any? = nil, raw: [UInt8]? = nil, cookie: String? = nil, csrf: String? = nil, bearer: String? = nil
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = .init(rawValue: method)
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        } else if let raw {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: raw))
        }
        if let cookie { request.headers.add(name: "Cookie", value: "\(cookieName)=\(cookie)") }
        if let csrf { request.headers.add(name: "X-CSRF-Token", value: csrf) }
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Reply(
            status: response.status.code, contentType: response.headers.first(name: "Content-Type"), body: Array(buffer: body),
            cookies: response.headers["Set-Cookie"], headers: Dictionary(response.headers.map { ($0.name, $0.value) }) { a, _ in a })
    }
}
