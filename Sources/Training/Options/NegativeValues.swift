/// The command line with each negative number that follows an option joined to it
/// (`--batch-size -4` becomes `--batch-size=-4`), so that the option's own check names what is
/// wrong with the value instead of the parser taking `-4` for an unknown flag.
public func joiningNegativeValues(_ arguments: [String]) -> [String] {
    var out: [String] = []
    var i = 0
    while i < arguments.count {
        let word = arguments[i]
        if word.hasPrefix("--"), !word.contains("="), i + 1 < arguments.count, isNegativeNumber(arguments[i + 1]) {
            out.append(word + "=" + arguments[i + 1])
            i += 2
        } else {
            out.append(word)
            i += 1
        }
    }
    return out
}

private func isNegativeNumber(_ word: String) -> Bool {
    guard word.hasPrefix("-"), word.count > 1 else { return false }
    return Double(word) != nil
}
