internal import Foundation
public import LiaisonModel

/// Labels as STANAG 4774 confidentiality metadata labels (XML), so that
/// labelling tools can read and write them.
///
/// Mapping (the subset Liaison uses; see `docs/protocol.md`):
/// - `originatorConfidentialityLabel` in namespace
///   `urn:nato:stanag:4774:confidentialitymetadatalabel:1:0`, with
///   `ReviewDateTime` when the label has a review instant;
/// - `ConfidentialityInformation/PolicyIdentifier` (text, and `URI`
///   `urn:liaison:policy:<policy>`), `Classification` (the level code);
/// - one `Category` per label category (`TagName`, `Type`
///   PERMISSIVE/RESTRICTIVE/INFORMATIVE, a `GenericValue` per value), plus
///   the reserved `Releasable To` (PERMISSIVE, party codes) and `Purpose`
///   (INFORMATIVE) categories;
/// - `OriginatorID` (`IDType="ISO3166-1-alpha-3"`) and `CreationDateTime`.
public enum STANAG4774 {
    public static let namespace = "urn:nato:stanag:4774:confidentialitymetadatalabel:1:0"
    static let releasableTag = "Releasable To"
    static let purposeTag = "Purpose"

    /// The label as XML; refuses a label whose own categories use a reserved tag.
    public static func export(_ label: SecurityLabel) throws(SealingError) -> String {
        for c in label.categories where c.tag == releasableTag || c.tag == purposeTag {
            throw SealingError(.invalidLabel, "category tag \"\(c.tag)\" is reserved for the label's own field")
        }
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<originatorConfidentialityLabel xmlns=\"\(namespace)\" ConfidentialityLabelVersion=\"1\""
        if let r = label.review { x += " ReviewDateTime=\"\(instant(r))\"" }
        x += ">\n  <ConfidentialityInformation>\n"
        x += "    <PolicyIdentifier URI=\"urn:liaison:policy:\(escape(label.policy))\">\(escape(label.policy))</PolicyIdentifier>\n"
        x += "    <Classification>\(escape(label.level))</Classification>\n"
        func category(_ tag: String, _ kind: LiaisonModel.Category.Kind, _ values: [String]) {
            x += "    <Category TagName=\"\(escape(tag))\" Type=\"\(kind.rawValue)\">"
            for v in values { x += "<GenericValue>\(escape(v))</GenericValue>" }
            x += "</Category>\n"
        }
        if !label.releasableTo.isEmpty { category(releasableTag, .permissive, label.releasableTo.sorted().map(\.code)) }
        for c in label.categories.sorted(by: { $0.tag < $1.tag }) { category(c.tag, c.kind, c.values.sorted()) }
        if let p = label.purpose { category(purposeTag, .informative, [p]) }
        x += "  </ConfidentialityInformation>\n"
        x += "  <OriginatorID IDType=\"ISO3166-1-alpha-3\">\(label.originator)</OriginatorID>\n"
        x += "  <CreationDateTime>\(instant(label.created))</CreationDateTime>\n"
        x += "</originatorConfidentialityLabel>\n"
        return x
    }

    /// Reads a label, refusing anything outside the mapping above.
    ///
    /// The document is read with libxml2's streaming reader directly, not
    /// through Foundation's `XMLParser`: on Linux that wrapper allocates an
    /// error object for every libxml2 error and never frees it, so a process
    /// reading malformed labels grows without bound (the stanag4774 fuzz
    /// target ran out of memory on it), and it crashed on a processing
    /// instruction without data. No listed Swift XML package avoids
    /// `XMLParser`, so Liaison calls the library under it.
    public static func `import`(_ xml: String) throws(SealingError) -> SecurityLabel {
        guard xml.utf8.count <= 1 << 20 else { throw SealingError(.oversized, "a label document is limited to 1 MiB") }
        // No document type declarations: no entities to expand or fetch. The
        // reader refuses them too; this names them before any parsing.
        guard !xml.contains("<!DOCTYPE"), !xml.contains("<!ENTITY") else {
            throw SealingError(.malformed, "STANAG 4774 label: document type declarations and entities are not accepted")
        }
        var reader = Reader()
        do {
            try XMLStream.read(Array(xml.utf8), into: &reader)
        } catch where error.reason.hasPrefix("STANAG 4774") {
            throw error
        } catch {
            throw SealingError(error.code, "STANAG 4774 label: \(error.reason)")
        }
        return try reader.label()
    }

    static func instant(_ d: Date) -> String {
        let ms = Instant.milliseconds(d) % 1000
        let base = RFC3339.format(Instant.normalized(d))
        guard ms != 0 else { return base }
        let frac = String(format: ".%03lld", (ms + 1000) % 1000)
        return String(base.dropLast()) + frac + "Z"
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Collects the elements of one label; any unexpected structure is an error.
    struct Reader: XMLStream.Handler {
        var path: [String] = []
        var text = ""
        var policy: String?, level: String?, originator: String?, created: String?, review: String?
        var categories: [(tag: String, type: String, values: [String])] = []
        var sawRoot = false
        var closedRoot = false
        static let values: Set<String> = ["PolicyIdentifier", "Classification", "OriginatorID", "CreationDateTime", "GenericValue"]

        func fail(_ why: String) -> SealingError { SealingError(.malformed, "STANAG 4774 label: \(why)") }

        mutating func start(_ name: String, namespace: String?, attributes: [String: String]) throws(SealingError) {
            guard namespace == STANAG4774.namespace else {
                throw fail("element \(name) is not in namespace \(STANAG4774.namespace)")
            }
            let parent = path.last
            switch (parent, name) {
            case (nil, "originatorConfidentialityLabel"):
                guard !sawRoot else { throw fail("more than one label") }
                sawRoot = true
                review = attributes["ReviewDateTime"]
                if let v = attributes["ConfidentialityLabelVersion"], v != "1" {
                    throw fail("ConfidentialityLabelVersion \(v) is not supported")
                }
            case ("originatorConfidentialityLabel", "ConfidentialityInformation"),
                ("originatorConfidentialityLabel", "OriginatorID"), ("originatorConfidentialityLabel", "CreationDateTime"),
                ("ConfidentialityInformation", "PolicyIdentifier"), ("ConfidentialityInformation", "Classification"):
                break
            case ("ConfidentialityInformation", "Category"):
                guard let tag = attributes["TagName"], let type = attributes["Type"] else {
                    throw fail("a Category needs TagName and Type")
                }
                categories.append((tag, type, []))
            case ("Category", "GenericValue"):
                break
            default:
                throw fail("unexpected element \(name)\(parent.map { " in \($0)" } ?? "")")
            }
            path.append(name)
            text = ""
        }

        mutating func characters(_ string: String) throws(SealingError) {
            if let current = path.last, !Self.values.contains(current),
                string.contains(where: { !$0.isWhitespace })
            {
                throw fail("text in \(current), which holds elements, not a value")
            }
            text += string
        }

        mutating func end(_ name: String) throws(SealingError) {
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            func once(_ field: inout String?) throws(SealingError) {
                if field != nil { throw SealingError(.malformed, "STANAG 4774 label: \(name) appears twice") }
                field = value
            }
            switch name {
            case "PolicyIdentifier": try once(&policy)
            case "Classification": try once(&level)
            case "OriginatorID": try once(&originator)
            case "CreationDateTime": try once(&created)
            case "GenericValue": categories[categories.count - 1].values.append(value)
            case "originatorConfidentialityLabel": closedRoot = true
            default: break
            }
            path.removeLast()
            text = ""
        }

        func label() throws(SealingError) -> SecurityLabel {
            func need(_ v: String?, _ what: String) throws(SealingError) -> String {
                guard let v, !v.isEmpty else { throw SealingError(.malformed, "STANAG 4774 label: \(what) is missing") }
                return v
            }
            func date(_ v: String, _ what: String) throws(SealingError) -> Date {
                guard let d = RFC3339.parse(v) else {
                    throw SealingError(.malformed, "STANAG 4774 label: \(what) \"\(v)\" is not an RFC 3339 instant with an offset")
                }
                return d
            }
            guard sawRoot else { throw SealingError(.malformed, "STANAG 4774 label: no originatorConfidentialityLabel") }
            guard closedRoot, path.isEmpty else {
                throw SealingError(.malformed, "STANAG 4774 label: not well-formed XML (the document ends inside an element)")
            }
            let originatorText = try need(originator, "OriginatorID")
            guard let origin = Party(originatorText) else {
                throw SealingError(.malformed, "STANAG 4774 label: OriginatorID \"\(originatorText)\" is not a party code")
            }
            var releasable = Set<Party>()
            var purpose: String?
            var cats: [LiaisonModel.Category] = []
            for c in categories {
                guard let kind = LiaisonModel.Category.Kind(rawValue: c.type) else {
                    throw SealingError(.malformed, "STANAG 4774 label: category \(c.tag) has Type \(c.type)")
                }
                switch c.tag {
                case STANAG4774.releasableTag:
                    for v in c.values {
                        guard let p = Party(v) else { throw SealingError(.malformed, "STANAG 4774 label: Releasable To \"\(v)\" is not a party code") }
                        releasable.insert(p)
                    }
                case STANAG4774.purposeTag:
                    guard c.values.count == 1, purpose == nil else {
                        throw SealingError(.malformed, "STANAG 4774 label: Purpose carries exactly one value")
                    }
                    purpose = c.values[0]
                default:
                    cats.append(LiaisonModel.Category(tag: c.tag, kind: kind, values: c.values))
                }
            }
            do {
                return try SecurityLabel(
                    policy: try need(policy, "PolicyIdentifier"), originator: origin, level: try need(level, "Classification"),
                    releasableTo: releasable, categories: cats, purpose: purpose,
                    created: try date(try need(created, "CreationDateTime"), "CreationDateTime"),
                    review: try review.map { v throws(SealingError) in try date(v, "ReviewDateTime") })
            } catch let e as ModelError {
                throw SealingError(.invalidLabel, "STANAG 4774 label: \(e.reason)")
            } catch let e as SealingError {
                throw e
            } catch {
                throw SealingError(.invalidLabel, "STANAG 4774 label: \(error)")
            }
        }
    }
}
