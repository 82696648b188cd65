"""Instrument data: conversion from ccxt's unified structures and the bundled offline snapshot."""
