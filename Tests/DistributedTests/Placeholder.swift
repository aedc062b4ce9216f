import XCTest

final class DistributedPlaceholderTests: XCTestCase {}
