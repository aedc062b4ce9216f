import ArgumentParser
import Images
import Tensors

// Choices declared by the modules below Training, parsed from the command line here.

extension DatasetFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

extension DatasetSplit: ExpressibleByArgument {}

extension Threads.Waiting: ExpressibleByArgument {}
