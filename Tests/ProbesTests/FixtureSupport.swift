import Foundation
import TestSupport

/// One of the JSON files written by scripts/probes_reference.py.
func probeFixture(_ name: String) throws -> [String: Any] {
    try loadFixture(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
}
