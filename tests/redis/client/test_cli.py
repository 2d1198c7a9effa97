"""test_cli.py - (being written)"""
import sys
sys.exit(0)
