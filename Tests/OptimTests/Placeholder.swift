import XCTest

final class OptimPlaceholderTests: XCTestCase {}
