"""The families of the edge-workload set: each makes one item from a seeded RNG, with its objective answer.

Routine families are what a device or plant server is asked all day (a log question, a reading
against its limit, a ticket to triage, a work order to extract, a conversion, a fact, a short
function); hard families need several steps, many constraints, longer code or knowledge a
small model is unlikely to hold. Every answer is checked by a rule (``evaluation/rules.py``),
never by a model judge. Values come from pools written here, so the set never changes with a
library's version.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from edgesplit.evaluation.workload_code import HARD_PROBLEMS, ROUTINE_PROBLEMS, code_prompt
from edgesplit.evaluation.workload_facts import FACTS, KNOWLEDGE

__all__ = ["FAMILIES", "TRIAGE_LABELS", "Family", "Made"]

# (prompt, check kind, expected answer, tolerance)
Made = tuple[str, str, Any, float]
Family = Callable[[random.Random, int], Made]

_DEVICES = ["pump P2", "compressor C1", "conveyor K4", "chiller CH3", "boiler B1", "press H7", "fan F9", "mixer M3"]
_SENSORS = [
    ("temperature", "°C", 40, 95),
    ("pressure", "bar", 1, 9),
    ("speed", "rpm", 900, 1800),
    ("load", "%", 20, 99),
]
_CODES = ["E1042", "E2041", "F-204", "ALM-331", "ERR-17", "E0917", "F-118", "ALM-402", "E3310", "F-551"]


def diagnostics(rng: random.Random, index: int) -> Made:
    """A short device log (12-24 lines) and a question whose answer is in one line."""
    device = rng.choice(_DEVICES)
    at = datetime(2026, 11, 1) + timedelta(days=rng.randrange(25), hours=rng.randrange(24))
    lines = []
    for _ in range(rng.randrange(12, 25)):
        at += timedelta(seconds=rng.randrange(5, 90))
        name, unit, low, high = rng.choice(_SENSORS)
        lines.append(f"{at:%Y-%m-%dT%H:%M:%S} INFO {device} {name}={round(rng.uniform(low, high), 1)} {unit} status=ok")
    warn, fault = rng.sample(_CODES, 2)
    first_warn = rng.randrange(2, len(lines) - 6)
    lines[first_warn] = lines[first_warn].replace("INFO", "WARN").replace("status=ok", f"status=degraded {warn}")
    fault_at = len(lines) - rng.randrange(2, 4)
    lines[fault_at] = f"{lines[fault_at][:19]} ERROR {device} fault {fault}: protective trip"
    log = "\n".join(lines)
    if index % 2 == 0:
        return f"Which fault code made the {device} trip? Reply with the code only.\n\n{log}", "contains", [fault], 0.0
    question = f"At what time (HH:MM:SS) did the {device} report {warn}? Reply with the time only."
    return f"{question}\n\n{log}", "contains", [lines[first_warn][11:19]], 0.0


def readings(rng: random.Random, index: int) -> Made:
    """A reading against its alarm limit: OK or ALARM."""
    device = rng.choice(_DEVICES)
    name, unit, low, high = rng.choice(_SENSORS)
    limit = round(rng.uniform(low + (high - low) * 0.5, high), 0)
    above = index % 2 == 0
    margin = rng.uniform(0.02, 0.15) * limit
    value = round(limit + margin if above else limit - margin, 1)
    prompt = (
        f"The {device} reports {name} {value} {unit}. Its alarm limit is {limit:g} {unit} (alarm when above). "
        "Is the reading OK or ALARM? Reply with one word: OK or ALARM."
    )
    return prompt, "label", "ALARM" if above else "OK", 0.0


TRIAGE_LABELS = ("electrical", "mechanical", "hydraulic", "software", "safety")
_SYMPTOMS = {
    "electrical": ["the main breaker trips every time the motor starts", "a fuse in the control cabinet has blown",
                   "the 24 V supply to the sensors reads 0 V", "the motor draws 40% more current than its rating",
                   "there is no power at the terminal strip X2"],
    "mechanical": ["the drive belt is slipping and squeals", "there is loud bearing noise from the gearbox",
                   "the coupling is misaligned and the shaft vibrates", "a chain link on the conveyor is cracked",
                   "the fan impeller rubs against its housing"],
    "hydraulic": ["oil is leaking from the lift cylinder seal", "the hydraulic pressure drops to 60 bar under load",
                  "a hydraulic hose burst at the press", "the hydraulic oil is foaming in the reservoir",
                  "the hydraulic pump whines and the ram moves slowly"],
    "software": ["the HMI freezes after the latest update", "the PLC program stops with a watchdog error",
                 "the SCADA screen shows stale values since the patch", "the recipe download to the controller fails",
                 "the operator login on the panel is rejected after the firmware upgrade"],
    "safety": ["the emergency stop button does not stop the line", "the guard door interlock has been bypassed",
               "the light curtain does not stop the press", "an operator was hurt by a moving part",
               "the safety relay is wired out of the circuit"],
}  # fmt: skip


def triage(rng: random.Random, index: int) -> Made:
    """A maintenance ticket into one of five labels."""
    label = TRIAGE_LABELS[index % len(TRIAGE_LABELS)]
    symptom = _SYMPTOMS[label][index // len(TRIAGE_LABELS) % len(_SYMPTOMS[label])]  # no ticket twice
    device = rng.choice(_DEVICES)
    ticket = f"Ticket from shift {rng.choice('ABC')}: on the {device}, {symptom}. Please look at it."
    prompt = (
        f"Classify this maintenance ticket into exactly one of: {', '.join(TRIAGE_LABELS)}. "
        f"Reply with the label only.\n\n{ticket}"
    )
    return prompt, "label", label, 0.0


_PRIORITIES = ("low", "medium", "high")


def _work_order(rng: random.Random) -> dict[str, Any]:
    return {
        "asset": f"{rng.choice('PKCMHV')}-{rng.randrange(100, 999)}",
        "priority": rng.choice(_PRIORITIES),
        "due": (date(2026, 12, 1) + timedelta(days=rng.randrange(40))).isoformat(),
        "technicians": rng.randrange(1, 5),
    }


def _order_text(order: dict[str, Any], rng: random.Random) -> str:
    due = date.fromisoformat(order["due"])
    forms = [
        f"Asset {order['asset']} needs service, {order['priority']} priority, by {due:%d %B %Y}, "
        f"{order['technicians']} technician(s).",
        f"Please send {order['technicians']} technician(s) to {order['asset']} before {due.isoformat()}; "
        f"priority is {order['priority']}.",
        f"Work order: {order['asset']}. Priority {order['priority'].upper()}. Due {due:%d/%m/%Y}. "
        f"Crew of {order['technicians']}.",
    ]
    return rng.choice(forms)


def extraction(rng: random.Random, index: int) -> Made:
    """One work order into JSON with known values."""
    order = _work_order(rng)
    prompt = (
        'Extract the work order as JSON with keys "asset" (string), "priority" (low, medium or high), '
        '"due" (YYYY-MM-DD) and "technicians" (integer). Reply with the JSON only.\n\n' + _order_text(order, rng)
    )
    return prompt, "json", order, 0.0


def _conversion(rng: random.Random) -> tuple[str, float]:
    kind = rng.randrange(6)
    if kind == 0:
        v = round(rng.uniform(1, 12), 1)
        return f"Convert {v} bar to kPa.", v * 100
    if kind == 1:
        v = rng.randrange(20, 140)
        return f"Convert {v} °C to °F.", v * 9 / 5 + 32
    if kind == 2:
        v = round(rng.uniform(1, 60), 1)
        return f"Convert {v} kW to horsepower (1 hp = 0.7457 kW).", v / 0.7457
    if kind == 3:
        v = rng.randrange(50, 900)
        return f"Convert a flow of {v} L/min to m³/h.", v * 60 / 1000
    if kind == 4:
        v = rng.randrange(600, 3600, 30)
        return f"A motor turns at {v} rpm. What is that in revolutions per second?", v / 60
    v = rng.randrange(10, 400)
    return f"Convert {v} mm to inches (1 inch = 25.4 mm).", v / 25.4


def arithmetic(rng: random.Random, index: int) -> Made:
    """A unit conversion or a service-interval sum with one numeric answer."""
    if index % 2 == 0:
        question, answer = _conversion(rng)
    else:
        hours, interval = rng.choice([8, 12, 16, 20, 24]), rng.choice([500, 1000, 2000, 4000])
        since = rng.randrange(interval // 10, interval - hours, hours)
        question = (f"A pump runs {hours} hours a day. It is serviced every {interval} operating hours and has run "
                    f"{since} hours since its last service. In how many days is the next service due?")  # fmt: skip
        answer = (interval - since) / hours
    return f"{question} End your reply with the number.", "number", round(answer, 4), 0.01


def facts(rng: random.Random, index: int) -> Made:
    question, answers = FACTS[index % len(FACTS)]
    return f"{question} Answer in a few words.", "contains", answers, 0.0


def knowledge(rng: random.Random, index: int) -> Made:
    question, answers = KNOWLEDGE[index % len(KNOWLEDGE)]
    return f"{question} Answer in a few words.", "contains", answers, 0.0


def code(rng: random.Random, index: int) -> Made:
    problem = ROUTINE_PROBLEMS[index % len(ROUTINE_PROBLEMS)]
    return code_prompt(problem), "code", {"entry_point": problem.name, "tests": problem.tests}, 0.0


def code_hard(rng: random.Random, index: int) -> Made:
    problem = HARD_PROBLEMS[index % len(HARD_PROBLEMS)]
    return code_prompt(problem), "code", {"entry_point": problem.name, "tests": problem.tests}, 0.0


def multistep(rng: random.Random, index: int) -> Made:
    """Several dependent steps to one number."""
    kind = index % 3
    if kind == 0:
        size, start = rng.randrange(800, 3000, 100), rng.randrange(100, 600, 50)
        fill, drain = rng.randrange(30, 80), rng.randrange(5, 25)
        question = (f"A tank holds {size} L and now has {start} L in it. It fills at {fill} L/min while a valve "
                    f"drains {drain} L/min. After 10 minutes the drain is closed. How many minutes from now "
                    "until the tank is full?")  # fmt: skip
        after_ten = start + 10 * (fill - drain)
        answer = 10 + (size - after_ten) / fill if after_ten < size else (size - start) / (fill - drain)
    elif kind == 1:
        rate, hours = rng.randrange(40, 120), rng.choice([6, 7, 8])
        scrap, shifts = rng.choice([2, 3, 4, 5]), rng.choice([2, 3])
        question = (f"A line makes {rate} parts per hour. Each shift runs {hours} hours, but the first 30 minutes "
                    f"of every shift are set-up with no output. {scrap}% of parts are scrapped. How many good parts "
                    f"do {shifts} shifts make?")  # fmt: skip
        answer = rate * (hours - 0.5) * shifts * (1 - scrap / 100)
    else:
        power, hours = round(rng.uniform(5, 40), 1), rng.choice([10, 14, 18, 22])
        peak, off = round(rng.uniform(0.25, 0.4), 2), round(rng.uniform(0.1, 0.2), 2)
        share = rng.choice([25, 40, 60])
        question = (f"A compressor draws {power} kW and runs {hours} hours a day. {share}% of its running hours "
                    f"are at the peak tariff of {peak} per kWh, the rest at {off} per kWh. What does it cost per "
                    "30-day month?")  # fmt: skip
        kwh = power * hours * 30
        answer = kwh * (share / 100 * peak + (1 - share / 100) * off)
    return f"{question} End your reply with the number.", "number", round(answer, 4), 0.01


def extraction_hard(rng: random.Random, index: int) -> Made:
    """Several work orders in one message into a sorted JSON list with normalised fields."""
    orders = [_work_order(rng) for _ in range(rng.randrange(3, 5))]
    text = " ".join(_order_text(order, rng) for order in orders)
    expected = sorted(
        ({"asset": o["asset"], "due": o["due"], "priority": o["priority"]} for o in orders if o["priority"] != "low"),
        key=lambda o: (o["due"], o["asset"]),
    )
    prompt = (
        "From the message below, list every work order whose priority is not low as a JSON array of objects with "
        'exactly the keys "asset", "due" (YYYY-MM-DD) and "priority" (lower case), sorted by due date, earliest '
        "first. Reply with the JSON only.\n\n" + text
    )
    return prompt, "json", expected, 0.0


# name -> (maker, items, hard)
FAMILIES: dict[str, tuple[Family, int, bool]] = {
    "diagnostics": (diagnostics, 20, False),
    "readings": (readings, 16, False),
    "triage": (triage, 20, False),
    "extraction": (extraction, 18, False),
    "arithmetic": (arithmetic, 26, False),
    "facts": (facts, 20, False),
    "code": (code, 8, False),  # one item per problem: no prompt twice
    "multistep": (multistep, 10, True),
    "extraction_hard": (extraction_hard, 6, True),
    "code_hard": (code_hard, 6, True),
    "knowledge": (knowledge, 10, True),
}
