internal import Yams

/// Reads a party's classification scheme from YAML (`Examples/schemes/`).
///
/// ```yaml
/// party: JPN
/// name: Japan, Ministry of Defense
/// levels:                 # most sensitive first
///   - {code: GOKUHI, marking: 極秘, romanization: Gokuhi, gloss: SECRET}
///   - {code: TOKUTEI, marking: 特定秘密, romanization: Tokutei Himitsu, gloss: SECRET, same_tier_as: GOKUHI}
/// ```
public enum SchemeDocument {
    public static func parse(_ source: SourceText) -> Result<ClassificationScheme, ModelError> {
        let reader = DocumentReader(file: source.name)
        let scheme = reader.root(of: source.text).flatMap { read($0, reader: reader, path: "") }
        if let scheme, reader.diagnostics.isEmpty { return .success(scheme) }
        return .failure(
            ModelError(.invalidScheme, "\(source.name) is not a valid scheme", diagnostics: reader.diagnostics))
    }

    static func read(_ node: Node, reader: DocumentReader, path: String) -> ClassificationScheme? {
        let before = reader.diagnostics.count
        guard let m = reader.mapping(node, path) else { return nil }
        let party = m.value("party").flatMap { reader.party($0, m.field("party")) }
        let name = m.value("name").flatMap { reader.string($0, m.field("name")) }
        guard let levelsNode = m.value("levels"), let items = reader.sequence(levelsNode, m.field("levels")) else {
            m.finish()
            return nil
        }
        if items.isEmpty { reader.report(levelsNode, m.field("levels"), "a scheme needs at least one level") }
        var levels: [Level] = []
        var rank = items.count
        for (i, item) in items.enumerated() {
            let field = "\(m.field("levels"))[\(i)]"
            guard let lm = reader.mapping(item, field) else { continue }
            defer { lm.finish() }
            let code = lm.value("code").flatMap { reader.string($0, lm.field("code")) }
            let marking = lm.value("marking").flatMap { reader.string($0, lm.field("marking")) }
            let roman = lm.value("romanization").flatMap { reader.string($0, lm.field("romanization")) }
            let gloss = lm.value("gloss").flatMap { reader.string($0, lm.field("gloss")) }
            var levelRank = rank
            if let tierNode = lm.value("same_tier_as", required: false),
                let other = reader.string(tierNode, lm.field("same_tier_as"))
            {
                if let previous = levels.last, previous.code == other || levels.contains(where: {
                    $0.code == other && $0.rank == previous.rank
                }) {
                    levelRank = previous.rank
                } else if levels.contains(where: { $0.code == other }) {
                    reader.report(
                        tierNode, lm.field("same_tier_as"),
                        "\(other) is not on the tier just above; levels of one tier must be listed together")
                } else {
                    reader.report(tierNode, lm.field("same_tier_as"), "\(other) is not a level listed above this one")
                }
            } else {
                rank -= 1
                levelRank = rank
            }
            if let code {
                if code.contains(where: { $0.isWhitespace }) {
                    reader.report(lm.value("code"), lm.field("code"), "a level code has no spaces")
                }
                if levels.contains(where: { $0.code == code }) {
                    reader.report(lm.value("code"), lm.field("code"), "level \(code) is listed twice")
                }
            }
            if let code, let marking, let roman, let gloss {
                levels.append(Level(code: code, marking: marking, romanization: roman, gloss: gloss, rank: levelRank))
            }
        }
        m.finish()
        guard let party, let name, reader.diagnostics.count == before else { return nil }
        return try? ClassificationScheme(party: party, name: name, levels: levels)
    }
}
