"""The demo models: their architectures (one ``nn.Module`` per ``*_net.py`` file, as
TorchServe's loader requires), the seeded training that builds them, and the archiver."""
