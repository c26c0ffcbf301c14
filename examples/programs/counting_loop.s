# Sum 10 + 9 + ... + 1 with a counting loop (LLVM syntax). r0 = 55, 33 instructions.
    r0 = 0
    r1 = 10
loop:
    r0 += r1
    r1 -= 1
    if r1 != 0 goto loop
    exit
