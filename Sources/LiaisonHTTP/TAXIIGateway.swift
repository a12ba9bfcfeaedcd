internal import Crypto
internal import Foundation
internal import HTTPTypes
internal import Hummingbird
internal import LiaisonFederation
internal import LiaisonModel
internal import LiaisonSealing
internal import LiaisonStore
internal import NIOCore

/// A TAXII 2.1 server (OASIS TAXII 2.1, DESIGN §5) in front of the node, so
/// that threat- and intelligence-sharing tools publish into and read from
/// it. Each STIX object is an item: labelled (by a marking definition that
/// carries the Liaison label in a property extension), sealed, checked by
/// the release policy, durably stored, and read only through the access
/// policy — every read and refusal in the ledger, as in the operator API.
///
/// Collections: `local` (what this node holds; analysts and officers
/// write), and one per agreement and peer (what the peer shared under it;
/// releasing officers write, which releases to the peer).
struct TAXIIGateway: Sendable {
    let api: Handlers
    let statuses = StatusBook()

    static let taxii = "application/taxii+json;version=2.1"
    static let stix = "application/stix+json;version=2.1"
    static let root = "liaison"
    /// The extension that carries a Liaison label in a marking definition (docs/taxii.md).
    static let labelExtension = "extension-definition--e9b1c7a2-5d3f-5b6e-8a4c-1f2d3e4b5a6c"
    static let liaisonIdentity = "identity--3c1d5b7e-2a4f-5c8d-9e6f-7a8b9c0d1e2f"
    static let pageLimit = 1000

    var federation: Federation { api.federation }
    var party: Party { federation.party }

    func register(_ router: Router<OperatorContext>) {
        router.get("taxii2") { request, _ in try await respond(request) { _ in try discovery(request) } }
        let root = router.group("taxii2/\(Self.root)")
        root.get("/") { request, _ in try await respond(request) { _ in apiRoot() } }
        root.get("collections") { request, _ in try await respond(request) { c in ["collections": collections(c).map(\.json)] } }
        root.get("collections/:collection") { request, context in try await respond(request) { c in try collection(c, context).json } }
        root.get("collections/:collection/objects") { request, context in
            try await respond(request, raw: true) { c in try await objects(c, request, context, manifest: false) }
        }
        root.post("collections/:collection/objects") { request, context in
            try await respond(request, changing: true, status: .accepted) { c in try await add(c, request, context) }
        }
        root.get("collections/:collection/objects/:object") { request, context in
            try await respond(request, raw: true) { c in try await objects(c, request, context, manifest: false) }
        }
        root.get("collections/:collection/objects/:object/versions") { request, context in
            try await respond(request, raw: true) { c in try await objects(c, request, context, manifest: false, versions: true) }
        }
        root.get("collections/:collection/manifest") { request, context in
            try await respond(request, raw: true) { c in try await objects(c, request, context, manifest: true) }
        }
        root.get("status/:status") { request, context in
            try await respond(request) { c in
                guard let id = context.parameters.get("status"), let s = statuses.get(id, owner: c.user.name) else {
                    throw OperatorError(.notFound, "no status resource with this id")
                }
                return s
            }
        }
    }

    // MARK: Answers

    /// What a handler gives back: a JSON object, or (for object lists) the object and TAXII headers.
    struct Page {
        var body: [String: Any]
        var headers: [(String, String)] = []
    }

    func respond(
        _ request: Request, changing: Bool = false, raw: Bool = false, status: HTTPResponse.Status = .ok,
        _ body: (Caller) async throws -> Any
    ) async throws -> Response {
        do {
            if let accept = request.headers[.accept], !Self.accepts(accept) {
                throw TAXIIError(.notAcceptable, "the server answers \(Self.taxii)")
            }
            let caller = try await api.caller(request, changing: changing)
            let result = try await body(caller)
            let (object, headers) = result is Page ? ((result as! Page).body, (result as! Page).headers) : (result as! [String: Any], [])
            var response = Response(
                status: status, headers: [.contentType: Self.taxii], body: .init(byteBuffer: ByteBuffer(bytes: try Self.json(object))))
            for (name, value) in headers { response.headers[HTTPField.Name(name)!] = value }
            return response
        } catch let e as TAXIIError {
            return Self.error(e.status, e.title, e.detail)
        } catch let e as OperatorError {
            return Self.error(e.status, e.status.reasonPhrase, e.reason)
        }
    }

    static func accepts(_ accept: String) -> Bool {
        accept.split(separator: ",").contains { part in
            let type = (part.split(separator: ";").first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
            return ["application/taxii+json", "application/*", "*/*", "application/json"].contains(type)
        }
    }

    struct TAXIIError: Error {
        let status: HTTPResponse.Status, title: String, detail: String
        init(_ status: HTTPResponse.Status, _ detail: String) { (self.status, self.title, self.detail) = (status, status.reasonPhrase, detail) }
    }

    /// A TAXII error message (TAXII 2.1 §3.6.1).
    static func error(_ status: HTTPResponse.Status, _ title: String, _ description: String) -> Response {
        var response = Response(
            status: status, headers: [.contentType: taxii],
            body: .init(byteBuffer: ByteBuffer(bytes: (try? json(["title": title, "description": description, "http_status": String(status.code)])) ?? [])))
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Basic realm=\"liaison\", Bearer realm=\"liaison\"" }
        return response
    }

    static func json(_ object: Any) throws -> [UInt8] {
        try CompactJSON.bytes(object)
    }

    // MARK: Discovery, root, collections

    func discovery(_ request: Request) throws -> [String: Any] {
        let host = request.head.authority ?? "127.0.0.1"
        return [
            "title": "Liaison \(party) node", "description": "Items exchanged under \(party)'s agreements, each labelled, sealed and policy-checked.",
            "default": "https://\(host)/taxii2/\(Self.root)/", "api_roots": ["https://\(host)/taxii2/\(Self.root)/"],
        ]
    }

    func apiRoot() -> [String: Any] {
        ["title": "Liaison \(party)", "versions": [Self.taxii], "max_content_length": 16 << 20]
    }

    struct Collection {
        let id: String, title: String, description: String
        let peer: Party?, agreement: String?
        let canRead: Bool, canWrite: Bool
        var json: [String: Any] {
            ["id": id, "title": title, "description": description, "can_read": canRead, "can_write": canWrite, "media_types": [TAXIIGateway.stix]]
        }
    }

    func collections(_ caller: Caller) -> [Collection] {
        let roles = caller.user.roles
        let writer = !roles.isDisjoint(with: [.analyst, .releasingOfficer, .securityOfficer])
        var out = [
            Collection(
                id: Self.uuid("collection/local/\(party.code)"), title: "\(party) holdings",
                description: "Items held at \(party)'s node that you may read; objects added here are labelled, sealed and kept here.", peer: nil,
                agreement: nil, canRead: true, canWrite: writer)
        ]
        for lifecycle in federation.book.lifecycles.values.filter({ $0.agreement.isParty(party) }).sorted(by: { $0.agreement.id < $1.agreement.id }) {
            for peer in lifecycle.agreement.partyCodes where peer != party {
                out.append(
                    Collection(
                        id: Self.uuid("collection/\(lifecycle.agreement.id)/\(peer.code)"), title: "\(lifecycle.agreement.id) — \(peer)",
                        description: "What \(peer) shared with \(party) under \(lifecycle.agreement.id); objects added here are released to \(peer) under it.",
                        peer: peer, agreement: lifecycle.agreement.id, canRead: true, canWrite: roles.contains(.releasingOfficer)))
            }
        }
        return out
    }

    func collection(_ caller: Caller, _ context: OperatorContext) throws -> Collection {
        let id = context.parameters.get("collection") ?? ""
        guard let c = collections(caller).first(where: { $0.id == id }) else { throw TAXIIError(.notFound, "no collection \(id.prefix(60))") }
        return c
    }

    /// A name-based UUID (SHA-256, version 5 bits, RFC 4122 variant): stable ids for collections and labels.
    /// Kept once made: every request names its collection, whose id is looked up among them all.
    static func uuid(_ name: String) -> String {
        if let known = uuids[name] { return known }
        let id = makeUUID(name)
        uuids.keep(id, for: name)
        return id
    }

    private static let uuids = BoundedMemo<String, String>(limit: 4096)

    static func makeUUID(_ name: String) -> String {
        var b = Array(SHA256.hash(data: Array(("liaison:" + name).utf8)).prefix(16))
        b[6] = (b[6] & 0x0F) | 0x50
        b[8] = (b[8] & 0x3F) | 0x80
        let h = Hex.encode(b)
        let c = Array(h)
        return "\(String(c[0..<8]))-\(String(c[8..<12]))-\(String(c[12..<16]))-\(String(c[16..<20]))-\(String(c[20..<32]))"
    }

    // MARK: Labels as marking definitions

    /// The marking definition that carries a label (its id derives from the label's canonical form).
    func marking(_ label: SecurityLabel) -> [String: Any] {
        var ext: [String: Any] = [
            "extension_type": "property-extension", "policy": label.policy, "originator": label.originator.code, "level": label.level,
            "releasable_to": label.releasableTo.sorted().map(\.code),
            "categories": label.categories.map { ["tag": $0.tag, "kind": $0.kind.rawValue, "values": $0.values] },
        ]
        if let p = label.purpose { ext["purpose"] = p }
        return [
            "type": "marking-definition", "spec_version": "2.1", "id": SecurityLabelMarking.id(label),
            "created": Self.timestamp(label.created), "created_by_ref": Self.liaisonIdentity,
            "name": "\(label.originator) \(label.level) REL TO \(label.releasableTo.sorted().map(\.code).joined(separator: ", "))",
            "extensions": [Self.labelExtension: ext],
        ]
    }

    /// A Liaison label from a posted marking definition, originated at this node.
    func label(fromMarking m: JSONValue) throws(OperatorError) -> SecurityLabel {
        guard let ext = m["extensions"]?[Self.labelExtension], ext.members != nil else {
            throw OperatorError(.invalidInput, "the marking definition carries no Liaison label (\(Self.labelExtension))")
        }
        var view = OperatorViews.Label(
            policy: ext["policy"]?.string, originator: ext["originator"]?.string, level: ext["level"]?.string ?? "",
            releasableTo: ext["releasable_to"]?.strings ?? [], categories: nil, purpose: ext["purpose"]?.string, created: nil, review: nil)
        if let cs = ext["categories"]?.array, cs.allSatisfy({ $0.members != nil }) {
            view.categories = cs.map { .init(tag: $0["tag"]?.string ?? "", kind: $0["kind"]?.string ?? "", values: $0["values"]?.strings ?? []) }
        }
        if let created = m["created"]?.string { view.created = RFC3339.parse(created) }
        return try api.label(view)
    }

    static func timestamp(_ d: Date) -> String { RFC3339.formatMilliseconds(d) }

    // MARK: Adding objects

    func add(_ caller: Caller, _ request: Request, _ context: OperatorContext) async throws -> [String: Any] {
        let collection = try collection(caller, context)
        guard collection.canWrite else { throw TAXIIError(.forbidden, "you may not write to \(collection.title)") }
        guard let type = request.headers[.contentType], type.lowercased().replacingOccurrences(of: " ", with: "").hasPrefix("application/taxii+json") else {
            throw TAXIIError(.unsupportedMediaType, "the envelope is \(Self.taxii)")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: 16 << 20) } catch { throw TAXIIError(.contentTooLarge, "an envelope is at most 16 MiB") }
        let envelope: JSONValue
        do { envelope = try JSONValue.parse(body.readableBytesView) } catch { throw TAXIIError(.badRequest, "the body is not readable JSON: \(error)") }
        guard let objects = envelope["objects"]?.array, objects.allSatisfy({ $0.members != nil }) else {
            throw TAXIIError(.badRequest, "the body is not a TAXII envelope with an objects list")
        }
        guard objects.count <= 10_000 else { throw TAXIIError(.contentTooLarge, "an envelope holds at most 10000 objects") }
        let requested = Date()
        var failures: [[String: Any]] = [], successes: [[String: Any]] = []
        // The labels the envelope defines.
        var labels: [String: Result<(label: SecurityLabel, marking: String), OperatorError>] = [:]
        for m in objects where m["type"]?.string == "marking-definition" {
            guard let id = m["id"]?.string else { continue }
            do {
                let label = try label(fromMarking: m)
                labels[id] = .success((label, SecurityLabelMarking.id(label)))
            } catch { labels[id] = .failure(error) }
        }
        var accepted: [(id: String, version: String, label: SecurityLabel, payload: [UInt8])] = []
        for o in objects {
            let id = String((o["id"]?.string ?? "").prefix(120)), version = String((o["modified"]?.string ?? o["created"]?.string ?? "").prefix(40))
            func fail(_ message: String) { failures.append(["id": id, "version": version, "message": message]) }
            guard let type = o["type"]?.string, id.utf8.starts(with: type.utf8), id.utf8.dropFirst(type.utf8.count).starts(with: "--".utf8),
                Self.isUUID(id.utf8.dropFirst(type.utf8.count + 2))
            else {
                fail("an object has a type and an id type--UUID")
                continue
            }
            if type == "marking-definition" {
                switch labels[id] {
                case .success?: successes.append(["id": id, "version": version, "message": "a Liaison label"])
                case .failure(let e)?: fail(e.reason)
                case nil: fail("unreadable marking definition")
                }
                continue
            }
            guard o["spec_version"]?.string == "2.1" else {
                fail("spec_version must be 2.1")
                continue
            }
            let named = o["object_marking_refs"]?.strings ?? []
            let refs = named.filter { labels[$0] != nil }
            guard refs.count == 1, case .success(let (label, markingID))? = labels[refs[0]] else {
                fail(
                    refs.isEmpty
                        ? "no Liaison label marks this object: add a marking definition with \(Self.labelExtension) to the envelope and name it in object_marking_refs"
                        : "the object's label is not valid or is not one label")
                continue
            }
            // The author must be able to read what they write (invariant 3).
            if case .refused(let r) = AccessPolicy.evaluate(
                AccessRequest(
                    reader: caller.reader, item: ItemFacts(digest: "", label: label), node: party, localScheme: api.accounts.scheme, agreement: nil,
                    instant: requested))
            {
                fail("\(r.article): \(Handlers.readerFacing(r)) — an author must be able to read the object")
                continue
            }
            // The label's reference is rewritten to its canonical marking definition (the one served with the object).
            let stored = o.setting("object_marking_refs", to: .array(named.map { .string(labels[$0] != nil ? markingID : $0) }))
            accepted.append((id, version, label, stored.bytes))
        }
        if !accepted.isEmpty {
            // One seal and one transaction for the whole envelope.
            let sealed = try await api.federated { () throws(FederationError) in
                try await federation.originate(accepted.map { ($0.label, Self.stix, $0.payload) })
            }
            var refused: [[UInt8]: Refusal] = [:]
            if let peer = collection.peer, let agreement = collection.agreement {
                let released = try await api.federated { () throws(FederationError) in
                    try await federation.release(sealed.map(\.manifest.itemID), to: peer, agreement: agreement)
                }
                for r in released.refused { refused[r.itemID] = r.refusal }
            }
            for (a, s) in zip(accepted, sealed) {
                if let r = refused[s.manifest.itemID] {
                    failures.append(["id": a.id, "version": a.version, "message": "kept here, not released: \(r.article): \(r.reason)"])
                } else {
                    successes.append(["id": a.id, "version": a.version])
                }
            }
        }
        let status: [String: Any] = [
            "id": UUID.random().uuidString.lowercased(), "status": "complete", "request_timestamp": Self.timestamp(requested), "total_count": objects.count,
            "success_count": successes.count, "successes": successes, "failure_count": failures.count, "failures": failures, "pending_count": 0,
            "pendings": [[String: Any]](),
        ]
        statuses.keep(status["id"] as! String, owner: caller.user.name, status)
        return status
    }

    /// Whether the text is a UUID: 8-4-4-4-12 hexadecimal digits (either
    /// case). Stricter than `UUID(uuidString:)` on Linux, whose scanner also
    /// takes a minus sign inside a group.
    static func isUUID(_ s: some Swift.Collection<UInt8>) -> Bool {
        guard s.count == 36 else { return false }
        for (i, b) in s.enumerated() {
            let dash = i == 8 || i == 13 || i == 18 || i == 23
            guard dash ? b == UInt8(ascii: "-") : JSONValue.hexDigit(b) != nil else { return false }
        }
        return true
    }

    // MARK: Reading objects

    /// Objects (or their manifest, or one object's versions) of a
    /// collection, oldest first, a page at a time: `added_after`, `limit`,
    /// `next`, `match[id|type|version|spec_version]`. Reads are ledgered.
    func objects(_ caller: Caller, _ request: Request, _ context: OperatorContext, manifest: Bool, versions: Bool = false) async throws -> Page {
        let collection = try collection(caller, context)
        // Keys as clients send them (`match%5Btype%5D`), decoded.
        var query: [String: [String]] = [:]
        for (key, value) in request.uri.queryParameters {
            query[String(key).removingPercentEncoding ?? String(key), default: []].append(String(value))
        }
        let q = QueryValues(values: query)
        let limit = try q.get("limit").map { t throws(TAXIIError) -> Int in
            guard let v = Int(t), v > 0 else { throw TAXIIError(.badRequest, "limit is a positive number") }
            return min(v, Self.pageLimit)
        } ?? 100
        var cursor = try q.get("next").map { t throws(TAXIIError) -> Int64 in
            guard let v = Int64(t), v >= 0 else { throw TAXIIError(.badRequest, "next is the value a previous page gave") }
            return v
        }
        let addedAfter = try q.get("added_after").map { t throws(TAXIIError) -> Date in
            guard let d = RFC3339.parse(t) ?? ISO8601DateFormatter().date(from: t) else { throw TAXIIError(.badRequest, "added_after is a timestamp") }
            return d
        }
        func list(_ name: String) -> Set<String>? {
            let values = q.getAll("match[\(name)]").flatMap { $0.split(separator: ",").map(String.init) }
            return values.isEmpty ? nil : Set(values)
        }
        var ids = list("id"), types = list("type")
        let versionMatch = list("version") ?? ["last"]
        let specs = list("spec_version")
        if let one = context.parameters.get("object") { ids = [one] }
        if versions { types = nil }
        let reader = caller.reader, now = Date()
        // Holdings of the collection the caller may read, in the order they
        // came, decrypted a batch at a time and filtered; only what is
        // returned is read (and recorded) through the access policy below.
        // A page holds `limit` objects and 16 MiB at most; one request
        // looks at 20000 holdings at most and says where to go on.
        var rows: [(h: LiaisonStore.Holding, object: JSONValue, item: StoredItem)] = []
        var more = false
        var scanned = 0, bytes = 0
        scan: while true {
            let page = try await api.store { () throws(StoreError) in try await federation.store.holdings(after: cursor, limit: 500) }
            if page.isEmpty { break }
            var batch: [LiaisonStore.Holding] = []
            for h in page {
                scanned += 1
                guard h.mediaType == Self.stix || h.mediaType.hasPrefix("text/"), h.status != .destroyed else { continue }
                if let p = collection.peer {
                    guard case .received(p, collection.agreement!) = h.source else { continue }
                }
                if let a = addedAfter, h.at <= a { continue }
                if api.mayRead(reader, h, at: now) { batch.append(h) }
            }
            let items = batch.isEmpty ? [] : try await api.store { () throws(StoreError) in try await federation.store.items(batch.map(\.itemID)) }
            var stopped = false
            for h in page {
                cursor = h.sequence
                guard let i = batch.firstIndex(where: { $0.sequence == h.sequence }) else { continue }
                let item = items[i]
                guard let payload = item.payload, let object = Self.stixObject(h, payload) else { continue }
                if let ids, !ids.contains(object["id"]?.string ?? "") { continue }
                if let types, !types.contains(object["type"]?.string ?? "") { continue }
                if let specs, !specs.contains(object["spec_version"]?.string ?? "2.1") { continue }
                if rows.count == limit || (bytes + payload.count > 16 << 20 && !rows.isEmpty) {
                    cursor = rows.last!.h.sequence
                    more = true
                    stopped = true
                    break
                }
                rows.append((h, object, item))
                bytes += payload.count
            }
            if stopped { break scan }
            if scanned >= 20_000 {
                more = true
                break
            }
        }
        var matched = rows.map { (h: $0.h, object: $0.object) }
        matched = Self.versions(matched, versionMatch, versions: versions)
        if let one = context.parameters.get("object"), matched.isEmpty, !more {
            throw TAXIIError(.notFound, "no object \(one.prefix(80)) that you may read is in this collection")
        }
        // Objects with the marking definitions of their labels fill at most `limit` entries.
        if !versions && !manifest {
            var labels = Set<String>(), used = 0, kept = 0
            for r in matched {
                let extra = labels.insert(SecurityLabelMarking.id(r.h.label)).inserted ? 2 : 1
                if used + extra > limit && kept > 0 { break }
                used += extra
                kept += 1
            }
            if kept < matched.count {
                cursor = matched[kept - 1].h.sequence
                matched = Array(matched.prefix(kept))
                more = true
            }
        }
        // What is returned is read through the access policy, and recorded (one ledger write).
        let returned = Set(matched.map(\.h.sequence))
        let decisions = try await api.federated { () throws(FederationError) in
            try await federation.read(items: rows.filter { returned.contains($0.h.sequence) }.map(\.item), by: reader)
        }
        let permitted = Set(decisions.compactMap { $0.item?.holding.sequence })
        matched = matched.filter { permitted.contains($0.h.sequence) }
        var headers: [(String, String)] = []
        if let first = matched.first, let last = matched.last {
            headers = [("X-TAXII-Date-Added-First", Self.timestamp(first.h.at)), ("X-TAXII-Date-Added-Last", Self.timestamp(last.h.at))]
        }
        var body: [String: Any] = ["more": more]
        if more, let cursor { body["next"] = String(cursor) }
        if versions {
            body["versions"] = matched.map { Self.version($0.object) }
        } else if manifest {
            body["objects"] = matched.map {
                ["id": $0.object["id"]?.string ?? "", "date_added": Self.timestamp($0.h.at), "version": Self.version($0.object), "media_type": Self.stix]
            }
        } else {
            // Each object with the marking definition of its label (once per page).
            var out: [Any] = [], seen = Set<String>()
            for r in matched {
                let m = marking(r.h.label)
                if seen.insert(SecurityLabelMarking.id(r.h.label)).inserted { out.append(m) }
                out.append(r.object)
            }
            body["objects"] = out
        }
        return Page(body: body, headers: headers)
    }

    struct QueryValues {
        let values: [String: [String]]
        func get(_ key: String) -> String? { values[key]?.first }
        func getAll(_ key: String) -> [String] { values[key] ?? [] }
    }

    static func version(_ o: JSONValue) -> String { o["modified"]?.string ?? o["created"]?.string ?? "" }

    /// `match[version]`: `last` (default), `first`, `all`, or timestamps.
    static func versions(_ rows: [(h: LiaisonStore.Holding, object: JSONValue)], _ match: Set<String>, versions: Bool)
        -> [(h: LiaisonStore.Holding, object: JSONValue)]
    {
        if match.contains("all") || versions { return rows }
        var byID: [String: [Int]] = [:]
        for (i, r) in rows.enumerated() { byID[r.object["id"]?.string ?? "", default: []].append(i) }
        var keep = Set<Int>()
        for (_, indices) in byID {
            let sorted = indices.sorted { version(rows[$0].object) < version(rows[$1].object) }
            if match.contains("last"), let l = sorted.last { keep.insert(l) }
            if match.contains("first"), let f = sorted.first { keep.insert(f) }
            for i in indices where match.contains(version(rows[i].object)) { keep.insert(i) }
        }
        return rows.enumerated().filter { keep.contains($0.offset) }.map(\.element)
    }

    /// The STIX object an item is: its payload when it is one (served as
    /// stored, numbers as they were written); a text item as a `note`.
    static func stixObject(_ h: LiaisonStore.Holding, _ payload: [UInt8]) -> JSONValue? {
        if h.mediaType == stix {
            guard let object = try? JSONValue.parse(payload), object.members != nil else { return nil }
            return object
        }
        guard let text = String(validating: payload, as: UTF8.self) else { return nil }
        let id = "note--" + uuid("item/\(Hex.encode(h.itemID))")
        let label = SecurityLabelMarking.id(h.label)
        return .object([
            ("type", .string("note")), ("spec_version", .string("2.1")), ("id", .string(id)), ("created", .string(timestamp(h.at))),
            ("modified", .string(timestamp(h.at))), ("content", .string(text)), ("object_refs", .array([.string(id)])),
            ("object_marking_refs", .array([.string(label)])),
        ])
    }
}

/// The id of a label's marking definition, wherever it is needed.
enum SecurityLabelMarking {
    static func id(_ label: SecurityLabel) -> String {
        "marking-definition--" + TAXIIGateway.uuid("label/\(Hex.encode(SHA256.hash(data: LabelDocument(label).derBytes)))")
    }
}

/// The status resources of recent envelopes (TAXII 2.1 §4.3), the last 10000.
/// Every envelope is complete when answered, so a status only repeats the answer.
final class StatusBook: @unchecked Sendable {
    // @unchecked: the dictionaries (of JSON values) are only touched under `lock`.
    private let lock = NSLock()
    private var order: [String] = []
    private var byID: [String: (owner: String, status: [String: Any])] = [:]

    /// Each status is its poster's only; an envelope's is kept whole only
    /// up to 1000 outcomes (the counts stay exact).
    func keep(_ id: String, owner: String, _ status: [String: Any]) {
        var s = status
        for key in ["successes", "failures"] { s[key] = (s[key] as? [[String: Any]]).map { Array($0.prefix(1000)) } }
        lock.withLock {
            order.append(id)
            byID[id] = (owner, s)
            if order.count > 10_000 { byID[order.removeFirst()] = nil }
        }
    }

    func get(_ id: String, owner: String) -> [String: Any]? {
        lock.withLock { byID[id].flatMap { $0.owner == owner ? $0.status : nil } }
    }
}
