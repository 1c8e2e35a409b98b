/// Names the product makes from partners' file names (archive copies, receipts, reasons,
/// temporaries) by adding a suffix: they must fit the 255 bytes a Linux file name may have,
/// also when the partner's name already used them all.
package enum FileName {
    static let maximumBytes = 255

    /// `path` with `suffix` added to its last component, whose end is cut (at a character
    /// boundary) as far as needed for the component to fit in ``maximumBytes``.
    package static func appending(_ suffix: String, to path: String) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        var base = String(path[slash...])
        let room = max(0, maximumBytes - suffix.utf8.count)
        while base.utf8.count > room { base.removeLast() }
        return String(path[..<slash]) + base + suffix
    }
}
