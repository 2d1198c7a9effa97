"""test_loadgen.py - (being written)"""
import sys
sys.exit(0)
