"""Short factual questions of the edge-workload set, each with the answers that count as right.

``FACTS`` are what any assistant should know (units, symbols, basic engineering terms);
``KNOWLEDGE`` needs detail a small model is unlikely to hold (protocol ports, standards,
material constants). An answer is right when it contains one of the accepted strings, as a
whole word, ignoring case (symbols of three characters or fewer, such as
"Cu" or "Pa", must match their case).
"""

from __future__ import annotations

__all__ = ["FACTS", "KNOWLEDGE"]

FACTS: list[tuple[str, list[str]]] = [
    ("What is the SI unit of pressure?", ["pascal", "Pa"]),
    ("What is the SI unit of frequency?", ["hertz", "Hz"]),
    ("What is the SI unit of electrical resistance?", ["ohm", "ohms", "Ω"]),
    ("What is the SI unit of power?", ["watt", "watts"]),
    ("What does the abbreviation PLC stand for in industrial automation?", ["programmable logic controller"]),
    ("What is the chemical symbol of copper?", ["Cu"]),
    ("How many bits are in a byte?", ["8", "eight"]),
    ("At what temperature in degrees Celsius does pure water freeze at sea level?", ["0", "zero"]),
    ("At what temperature in degrees Celsius does pure water boil at sea level?", ["100"]),
    ("How many sides does a hexagon have?", ["6", "six"]),
    (
        "What does the abbreviation HMI stand for in industrial automation?",
        ["human machine interface", "human-machine interface"],
    ),
    ("What is the chemical symbol of iron?", ["Fe"]),
    ("Which gas makes up most of the Earth's atmosphere?", ["nitrogen", "N2"]),
    ("How many minutes are in a day?", ["1440", "1,440"]),
    ("What does the abbreviation RPM stand for?", ["revolutions per minute", "rotations per minute"]),
    ("Which metal is liquid at room temperature?", ["mercury", "Hg"]),
    ("What is the unit of electric current?", ["ampere", "amperes", "amp", "amps"]),
    ("How many degrees are in a right angle?", ["90", "ninety"]),
    ("What does the abbreviation AC stand for in electrical engineering?", ["alternating current"]),
    ("What is the chemical formula of water?", ["H2O", "H₂O"]),
]

KNOWLEDGE: list[tuple[str, list[str]]] = [
    ("What TCP port does Modbus TCP use by default?", ["502"]),
    ("What TCP port does unencrypted MQTT use by default?", ["1883"]),
    ("What TCP port does OPC UA's binary protocol use by default?", ["4840"]),
    ("Which part of IEC 61131 defines the PLC programming languages such as ladder diagram and structured text?",
     ["61131-3", "part 3"]),
    ("What UDP port does BACnet/IP use by default?", ["47808", "0xBAC0"]),
    ("In an IP67 rating, what does the first digit 6 mean?", ["dust-tight", "dust tight", "dust-proof", "dustproof"]),
    ("What is the Curie temperature of iron in degrees Celsius, to the nearest ten?", ["770"]),
    ("Which ISO standard series covers the safety-related parts of machine control systems, with performance "
     "levels PL a to PL e?", ["13849", "ISO 13849"]),
    ("What TCP port does EtherNet/IP use for explicit messaging by default?", ["44818"]),
    ("What is the thermal expansion coefficient of steel, roughly, in micrometres per metre per kelvin?",
     ["12", "11", "13"]),
]  # fmt: skip
