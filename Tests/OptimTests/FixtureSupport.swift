import Foundation
import TestSupport

/// One of the JSON files written by scripts/optim_reference.py.
func optimFixture(_ name: String) throws -> [String: Any] {
    try loadFixture(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
}
