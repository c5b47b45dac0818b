"""Hand-written 835 (005010X221A1) transactions and the envelope helpers the tests put them in.

Each body is what a payer writes between ST and SE, one segment a line, with `*` `:` `^` `~`;
`interchange` wraps bodies in ST/SE, GS/GE and ISA/IEA with exact counts (the tests that want
a wrong count break it afterwards), and `redelimit` writes the same file with other delimiters.
Amounts are chosen so each claim, line and payment balances, and every file passes x12valid.
"""

from __future__ import annotations

HEADER = """\
TRN*1*{trace}*1512345678~
REF*EV*HEARTH~
DTM*405*20261203~
N1*PR*EVERGREEN HEALTH PLAN~
N3*100 PAYER WAY~
N4*PORTLAND*OR*97204~
REF*2U*EVGRN~
PER*BL*EDI SUPPORT*TE*5035550199~
N1*PE*HEARTH HEALTH*XX*2123456784~
REF*TJ*990000001~
"""
ACH = "BPR*I*{amount}*C*ACH*CCP*01*011000015*DA*123456789*1512345678**01*021000021*DA*987654321*20261204~\n"  # noqa: E501

# Paid, with the contractual adjustment and a copay on the line: 150 - 30 - 20 = 100.
PAID = """\
CLP*HC0000001A*1*150*100*20*12*PCN0000000001*11*1~
NM1*QC*1*LEE*JORDAN****MI*M00000001~
DTM*050*20261120~
SVC*HC:90837*150*100**1~
DTM*472*20261102~
CAS*CO*45*30~
CAS*PR*3*20~
REF*6R*L0000001A1~
AMT*B6*120~
"""
# Partly paid: deductible and coinsurance in one CAS: 150 - 30 - 80 - 10 = 30.
PARTLY_PAID = """\
CLP*HC0000002A*1*150*30*90*12*PCN0000000002*11*1~
NM1*QC*1*KIM*ALEX****MI*M00000002~
SVC*HC:90834*150*30**1~
DTM*472*20261103~
CAS*CO*45*30~
CAS*PR*1*80*1*2*10~
REF*6R*L0000002A1~
AMT*B6*120~
"""
# A reversal of PAID (every amount negated, CLP07 the original's), then its correction.
REVERSAL_AND_CORRECTION = """\
CLP*HC0000001A*22*-150*-100*-20*12*PCN0000000001*11*1~
NM1*QC*1*LEE*JORDAN****MI*M00000001~
SVC*HC:90837*-150*-100**-1~
DTM*472*20261102~
CAS*CO*45*-30~
CAS*PR*3*-20~
REF*6R*L0000001A1~
CLP*HC0000001A*1*150*110*10*12*PCN0000000011*11*1~
NM1*QC*1*LEE*JORDAN****MI*M00000001~
SVC*HC:90837*150*110**1~
DTM*472*20261102~
CAS*CO*45*30~
CAS*PR*3*10~
REF*6R*L0000001A1~
AMT*B6*120~
"""
# An exact duplicate, denied at claim level: CO-18, no lines.
DUPLICATE = """\
CLP*HC0000003A*4*150*0*0*12*PCN0000000003*11*1~
CAS*CO*18*150~
NM1*QC*1*LEE*JORDAN****MI*M00000001~
"""
# Paid, its add-on line denied (CO-97 bundled, remark M80): 175.50 - 30 - 20 - 25.50 = 100.
LINE_DENIED = """\
CLP*HC0000004A*1*175.5*100*20*12*PCN0000000004*11*1~
NM1*QC*1*BROOKS*TAYLOR****MI*M00000004~
SVC*HC:90837*150*100**1~
DTM*472*20261104~
CAS*CO*45*30~
CAS*PR*3*20~
REF*6R*L0000004A1~
AMT*B6*120~
SVC*HC:90785*25.5*0**1~
DTM*472*20261104~
CAS*CO*97*25.5~
REF*6R*L0000004A2~
LQ*HE*M80~
"""
# Paid below our fee schedule (CO-45 40: the payer allowed 110), its add-on denied CO-50 (not
# medically necessary): 175.50 - 40 - 20 - 25.50 = 90.
UNDERPAID_LINE_DENIED = """\
CLP*HC0000008A*1*175.5*90*20*12*PCN0000000008*11*1~
NM1*QC*1*BROOKS*TAYLOR****MI*M00000008~
SVC*HC:90837*150*90**1~
DTM*472*20261104~
CAS*CO*45*40~
CAS*PR*3*20~
REF*6R*L0000008A1~
SVC*HC:90785*25.5*0**1~
DTM*472*20261104~
CAS*CO*50*25.5~
REF*6R*L0000008A2~
LQ*HE*N115~
"""
# All six triplets of one CAS, a quantity on the first: 150 - (20 + 3 + 2 + 1 + 1.5 + 2) = 120.50.
SIX_TRIPLETS = """\
CLP*HC0000005A*1*150*120.5*0*12*PCN0000000005*11*1~
NM1*QC*1*MORGAN*CASEY****MI*M00000005~
SVC*HC:90837:95*150*120.5**1~
DTM*472*20261105~
CAS*CO*45*20*1*253*3**59*2**94*1**97*1.5**B10*2~
REF*6R*L0000005A1~
"""
# Denied, paid nothing: what a notification-only BPR (H, NON, 0) carries.
DENIED = """\
CLP*HC0000006A*4*150*0*0*12*PCN0000000006*11*1~
NM1*QC*1*CHEN*RILEY****MI*M00000006~
SVC*HC:90837*150*0**1~
DTM*472*20261106~
CAS*CO*50*150~
REF*6R*L0000006A1~
LQ*HE*N115~
"""
# Every situational element the reader keeps, at claim level (CAS, MOA, REF, DTM, AMT, QTY) and
# on a line (SVC04 revenue code, SVC06-07 as submitted, REF*LU, QTY, LQ), then a line with none:
# 200 - 20 (OA-23) - 30 - 10 - 10 = 130; the PR adjustments 10 + 10 are CLP05.
EVERY_ELEMENT = """\
CLP*HC0000007A*2*200*130*20*12*PCN0000000007*11*1~
CAS*OA*23*20~
NM1*QC*1*PARK*SAM****MI*M00000007~
MOA***MA01*MA02~
REF*EA*MR0000007~
DTM*232*20261101~
AMT*AU*150~
QTY*CA*1~
SVC*HC:90837*180*140*0510*1*HC:90834*2~
DTM*472*20261101~
CAS*CO*45*30~
CAS*PR*3*10~
REF*6R*L0000007A1~
REF*LU*LOC7~
AMT*B6*150~
QTY*ZL*2~
LQ*HE*N130~
SVC*HC:90785*20*10**1~
DTM*472*20261101~
CAS*PR*2*10~
REF*6R*L0000007A2~
"""
# PLB amounts are signed: L6 interest -1.25 raises the payment, WO 10 and 72 5.50 lower it,
# FB -2 raises it: the PLBs total 12.25, in two segments (three pairs, then one).
PLBS = """\
PLB*2123456784*20261231*L6:PCN0000000001*-1.25*WO:PCN0000000002*10*72:RF20261101*5.5~
PLB*2123456784*20261231*FB:PCN0000000003*-2~
"""


def transaction(
    claims: str = PAID, *, paid: str = "100", trace: str = "EFT0001", plb: str = "", bpr: str = ""
) -> str:
    """A body between ST and SE: BPR (ACH paying `paid`, unless `bpr`), header, LX, claims."""
    head = bpr or ACH.format(amount=paid)
    return head + HEADER.format(trace=trace) + "LX*1~\n" + claims + plb


def interchange(*groups: list[str], control: int = 101) -> str:
    """ISA, one GS per group (its transaction bodies as ST..SE), GE, IEA; counts exact."""
    out = [
        "ISA*00*          *00*          *ZZ*EVGRN          *ZZ*HEARTH         *261204*1530*^"
        f"*00501*{control:09d}*0*P*:~"
    ]
    st = 0
    for g, bodies in enumerate(groups, start=1):
        gs06 = str(control * 10 + g)
        out.append(f"GS*HP*EVGRN*HEARTH*20261204*1530*{gs06}*X*005010X221A1~")
        for body in bodies:
            st += 1
            segments = [s for s in body.split("\n") if s]
            out.append(f"ST*835*{st:04d}~")
            out.extend(segments)
            out.append(f"SE*{len(segments) + 2}*{st:04d}~")
        out.append(f"GE*{len(bodies)}*{gs06}~")
    out.append(f"IEA*{len(groups)}*{control:09d}~")
    return "\n".join(out) + "\n"


def redelimit(
    text: str, *, element: str, component: str, repetition: str, terminator: str, breaks: str = ""
) -> str:
    """The same interchange written with other delimiters (and `breaks` after each segment)."""
    segments = [s.strip("\n") for s in text.split("~") if s.strip("\n")]
    out = []
    for segment in segments:
        elements = segment.split("*")
        if elements[0] == "ISA":
            elements[11], elements[16] = repetition, component
        else:
            elements = [e.replace(":", component) for e in elements]
        out.append(element.join(elements) + terminator + breaks)
    return "".join(out)


def pad_isa(text: str, isa06: str = "EVGRN", isa08: str = "HEARTH") -> str:
    """The ISA with ISA06 and ISA08 unpadded, as real senders write it wrongly."""
    isa, rest = text.split("~", 1)
    elements = isa.split("*")
    elements[6], elements[8] = isa06, isa08 + "   "
    return "*".join(elements) + "~" + rest
