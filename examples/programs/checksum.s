# Conformance-style syntax: add up the input bytes (r1 = input, r2 = length).
    mov %r0, 0
    mov %r3, 0
loop:
    jge %r3, %r2, done
    mov %r4, %r1
    add %r4, %r3
    ldxb %r5, [%r4+0]
    add %r0, %r5
    add %r3, 1
    ja loop
done:
    exit
