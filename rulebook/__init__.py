"""Rulebooks: YAML → validated model → compiled, executable rules. Pure: no DB, no models."""

from rulebook.compiler import CompiledCheck, CompiledRule, CompiledRulebook, compile_rulebook
from rulebook.loader import LoadedRulebook, load_file, load_text, to_yaml
from rulebook.model import Rulebook
from rulebook.vocabulary import FieldSpec, Vocabulary

__all__ = [
    "CompiledCheck",
    "CompiledRule",
    "CompiledRulebook",
    "FieldSpec",
    "LoadedRulebook",
    "Rulebook",
    "Vocabulary",
    "compile_rulebook",
    "load_file",
    "load_text",
    "to_yaml",
]
