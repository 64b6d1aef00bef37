; ringzero demo kernel: a small protected-mode operating system for learning what a hypervisor
; must handle. It is loaded by a Multiboot boot loader, and it then:
;
;   1. builds a GDT with ring-0 and ring-3 segments and a TSS (the CPU's record of the ring-0
;      stack to switch to when an interrupt arrives in ring 3),
;   2. builds an IDT: CPU exceptions, the PIC's hardware interrupts, and INT 0x80 for system
;      calls (the only gate ring 3 may use),
;   3. turns on paging: the first 8 MiB identity mapped, kernel pages supervisor-only, user
;      pages marked user, and a heap that is mapped on demand by the page-fault handler,
;   4. programs the PIT for 100 Hz and the serial port for receive interrupts,
;   5. starts four tasks: an idle task in ring 0 (HLT until the next interrupt), two workers
;      and a shell in ring 3, switched round robin on every timer tick.
;
; The shell (at the end of this file) shows what ring 3 can and cannot do: SGDT, reading CS and
; PUSHF/POPF are sensitive but do not trap, while CLI traps with a #GP the kernel reports.
;
; Assembled by @ringzero/assembler (NASM syntax); booted by `ringzero run` (the default guest).

bits 32
org 0x100000

; ---- Constants -------------------------------------------------------------------------------

MB_MAGIC        equ 0x1BADB002
MB_FLAGS        equ 0x00010003        ; page-aligned modules, memory info, address fields below
MB_LOADER_MAGIC equ 0x2BADB002

KCODE           equ 0x08              ; GDT selectors: index * 8 + requested privilege level
KDATA           equ 0x10
UCODE           equ 0x18 | 3
UDATA           equ 0x20 | 3
TSS_SEL         equ 0x28

PAGE_DIR        equ 0x180000          ; page directory and tables (kernel memory, not in the image)
PT_LOW          equ 0x181000          ; two tables: 0-8 MiB identity mapped
PT_HEAP         equ 0x183000          ; 8-12 MiB: the demand-paged heap
KSTACKS         equ 0x190000          ; 4 KiB ring-0 stack per task
BOOT_STACK      equ 0x198000          ; the stack used before the first task runs
USTACKS         equ 0x300000          ; 4 KiB ring-3 stack per task (user pages)
FRAME_POOL      equ 0x600000          ; physical frames handed out by the page-fault handler
FRAME_POOL_END  equ 0x800000
HEAP            equ 0x800000          ; ring-3 heap: not present until first touched
HEAP_END        equ 0x810000

PTE_P           equ 1                 ; present
PTE_W           equ 2                 ; writable
PTE_U           equ 4                 ; user may access

COM1            equ 0x3F8
PIT_HZ          equ 1193182
TICK_HZ         equ 100

MAX_TASKS       equ 4
TASK_SIZE       equ 32                ; bytes per task record:
T_FRAME         equ 0                 ;   saved kernel stack pointer (its trap frame)
T_STATE         equ 4                 ;   one of the ST_ values
T_WAKE          equ 8                 ;   tick to wake at, when sleeping
T_KTOP          equ 12                ;   top of its ring-0 stack (TSS.esp0 while it runs)
T_NAME          equ 16                ;   name string
T_TICKS         equ 20                ;   timer ticks it was running for
T_PROGRESS      equ 24                ;   what a worker reported through SYS_PROGRESS
T_FAULTS        equ 28                ;   page faults handled for it

ST_FREE         equ 0
ST_READY        equ 1
ST_SLEEPING     equ 2
ST_WAITING      equ 3                 ; waiting for serial input
ST_DEAD         equ 4

; The trap frame every interrupt builds on the ring-0 stack (see isr_common), by offset.
F_ES            equ 0
F_DS            equ 4
F_EDI           equ 8
F_ESI           equ 12
F_EBP           equ 16
F_EBX           equ 24
F_EDX           equ 28
F_ECX           equ 32
F_EAX           equ 36
F_VECTOR        equ 40
F_ERROR         equ 44
F_EIP           equ 48
F_CS            equ 52
F_EFLAGS        equ 56
F_ESP           equ 60                ; these two only when the interrupt came from ring 3
F_SS            equ 64

SYS_WRITE       equ 0                 ; system call numbers (EAX at INT 0x80)
SYS_READ        equ 1
SYS_SLEEP       equ 2
SYS_YIELD       equ 3
SYS_TASKS       equ 4
SYS_HALT        equ 5
SYS_PROGRESS    equ 6
SYS_RINGS       equ 7

; ---- Multiboot header: the boot loader finds it in the first 8 KiB ---------------------------

multiboot_header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)         ; the three words sum to zero
    dd multiboot_header               ; header_addr
    dd multiboot_header               ; load_addr: the image starts with this header
    dd 0                              ; load_end_addr: load the whole file
    dd 0                              ; bss_end_addr: no BSS
    dd start                          ; entry_addr

; ---- Entry ------------------------------------------------------------------------------------

start:
    ; The loader left us in 32-bit protected mode, paging off, interrupts off, with EAX holding
    ; its magic and EBX pointing at the Multiboot information structure.
    mov esp, BOOT_STACK
    mov [boot_magic], eax
    mov [boot_info], ebx

    mov esi, msg_banner
    call kputs
    call check_multiboot
    call setup_gdt
    call setup_idt
    call setup_paging
    call setup_pic
    call setup_pit
    call setup_serial
    call setup_tasks

    ; Enter the first task as if returning from an interrupt: its frame was built by
    ; setup_tasks. From here on the kernel runs only on interrupts and system calls.
    mov esi, msg_start
    call kputs
    mov dword [current], 1
    mov eax, [tasks + 1 * TASK_SIZE + T_KTOP]
    mov [tss + 4], eax                ; TSS.esp0: where the CPU puts the next ring-3 trap frame
    mov esp, [tasks + 1 * TASK_SIZE + T_FRAME]
    jmp isr_return

; ---- Boot information -------------------------------------------------------------------------

check_multiboot:
    cmp dword [boot_magic], MB_LOADER_MAGIC
    je .ok
    mov esi, msg_no_multiboot
    jmp panic
.ok:
    mov esi, msg_mem
    call kputs
    mov ebx, [boot_info]
    mov eax, [ebx + 8]                ; mem_upper: KiB above 1 MiB
    shr eax, 10
    call kput_dec
    mov esi, msg_mib
    call kputs
    test dword [ebx], 4               ; flag 2: a command line is present
    jz .done
    mov esi, msg_cmdline
    call kputs
    mov esi, [ebx + 16]
    call kputs
    mov esi, msg_quote_nl
    call kputs
.done:
    ret

; ---- Segmentation: GDT and TSS -----------------------------------------------------------------

setup_gdt:
    ; The TSS descriptor's base is split across three fields; fill them in at run time.
    mov eax, tss
    mov [gdt_tss + 2], ax
    shr eax, 16
    mov [gdt_tss + 4], al
    mov [gdt_tss + 7], ah
    mov dword [tss + 8], KDATA        ; TSS.ss0: the ring-0 stack segment
    mov word [tss + 102], 104         ; I/O bitmap offset past the end: ring 3 gets no ports

    lgdt [gdt_descriptor]
    jmp KCODE:.reload_cs              ; a far jump loads CS from the new table
.reload_cs:
    mov ax, KDATA
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov ax, TSS_SEL
    ltr ax                            ; the task register: where TSS.esp0 is read from

    ; SGDT is how a kernel (or anyone, see the shell) reads the table's location back.
    sgdt [scratch]
    mov esi, msg_gdt
    call kputs
    mov eax, [scratch + 2]
    call kput_hex
    mov esi, msg_gdt2
    call kputs
    ret

; ---- Interrupts: IDT --------------------------------------------------------------------------

setup_idt:
    ; Every vector gets an interrupt gate (IF cleared on entry) to its stub, DPL 0: ring 3 cannot
    ; raise it with INT n. Vector 0x80 is the exception: DPL 3, the system-call door.
    xor ecx, ecx
.fill:
    mov eax, [isr_table + ecx * 4]
    mov [idt + ecx * 8], ax           ; offset 15:0
    mov word [idt + ecx * 8 + 2], KCODE
    mov word [idt + ecx * 8 + 4], 0x8E00 ; present, DPL 0, 32-bit interrupt gate
    shr eax, 16
    mov [idt + ecx * 8 + 6], ax       ; offset 31:16
    inc ecx
    cmp ecx, 48
    jb .fill
    mov eax, isr_syscall
    mov [idt + 0x80 * 8], ax
    mov word [idt + 0x80 * 8 + 2], KCODE
    mov word [idt + 0x80 * 8 + 4], 0xEE00 ; present, DPL 3, interrupt gate
    shr eax, 16
    mov [idt + 0x80 * 8 + 6], ax
    lidt [idt_descriptor]

    sidt [scratch]
    mov esi, msg_idt
    call kputs
    mov eax, [scratch + 2]
    call kput_hex
    mov esi, msg_nl
    call kputs
    ret

; ---- Paging -----------------------------------------------------------------------------------

setup_paging:
    mov edi, PAGE_DIR                 ; clear the directory and three tables
    mov ecx, 4 * 1024
    xor eax, eax
    cld
    rep stosd

    mov dword [PAGE_DIR + 0], PT_LOW + PTE_P + PTE_W + PTE_U
    mov dword [PAGE_DIR + 4], PT_LOW + 0x1000 + PTE_P + PTE_W + PTE_U
    mov dword [PAGE_DIR + 8], PT_HEAP + PTE_P + PTE_W + PTE_U

    mov edi, PT_LOW                   ; identity map 0-8 MiB, supervisor only
    mov eax, PTE_P + PTE_W
    mov ecx, 2048
.identity:
    stosd
    add eax, 0x1000
    loop .identity
    mov dword [PT_LOW], 0             ; page 0 absent: null pointers fault

    mov eax, user_start               ; the shell's and workers' code and data: user pages
.user_pages:
    mov ebx, eax
    shr ebx, 12
    or dword [PT_LOW + ebx * 4], PTE_U
    add eax, 0x1000
    cmp eax, user_end
    jb .user_pages
    mov ecx, MAX_TASKS                ; and the ring-3 stacks
    mov ebx, USTACKS >> 12
.user_stacks:
    or dword [PT_LOW + ebx * 4], PTE_U
    inc ebx
    loop .user_stacks

    mov eax, PAGE_DIR
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80010000                ; PG, and WP: ring 0 honours read-only pages too
    mov cr0, eax

    mov esi, msg_paging
    call kputs
    mov eax, user_start
    call kput_hex
    mov esi, msg_dash
    call kputs
    mov eax, user_end - 1
    call kput_hex
    mov esi, msg_paging2
    call kputs
    ret

; ---- Devices ----------------------------------------------------------------------------------

setup_pic:
    ; Move the PIC's vectors off the CPU exceptions: IRQ 0-7 to 0x20, IRQ 8-15 to 0x28.
    mov al, 0x11                      ; ICW1: edge triggered, cascade, ICW4 follows
    out 0x20, al
    out 0xA0, al
    mov al, 0x20                      ; ICW2: vector base
    out 0x21, al
    mov al, 0x28
    out 0xA1, al
    mov al, 4                         ; ICW3: slave on IRQ 2
    out 0x21, al
    mov al, 2
    out 0xA1, al
    mov al, 1                         ; ICW4: 8086 mode
    out 0x21, al
    out 0xA1, al
    mov al, 0xEE                      ; unmask IRQ 0 (timer) and IRQ 4 (COM1) only
    out 0x21, al
    mov al, 0xFF
    out 0xA1, al
    ret

setup_pit:
    mov al, 0x34                      ; channel 0, low then high byte, mode 2 (rate generator)
    out 0x43, al
    mov ax, PIT_HZ / TICK_HZ
    out 0x40, al
    mov al, ah
    out 0x40, al
    mov esi, msg_pit
    call kputs
    ret

setup_serial:
    mov dx, COM1 + 3
    mov al, 0x80                      ; LCR: divisor latch access
    out dx, al
    mov dx, COM1
    mov al, 1                         ; divisor 1: 115200 baud
    out dx, al
    inc dx
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 3                         ; 8 data bits, no parity, one stop bit
    out dx, al
    mov dx, COM1 + 2
    mov al, 0xC7                      ; FIFOs on and cleared
    out dx, al
    mov dx, COM1 + 4
    mov al, 0x0B                      ; DTR, RTS, OUT2 (OUT2 connects the UART to IRQ 4)
    out dx, al
    mov dx, COM1 + 1
    mov al, 1                         ; interrupt when received data is available
    out dx, al
    ret

; ---- Tasks ------------------------------------------------------------------------------------

setup_tasks:
    ; Each task starts from a trap frame built by hand on its own ring-0 stack, exactly as if it
    ; had been interrupted just before its first instruction.
    mov ecx, 0                        ; task 0: idle, ring 0
    mov esi, idle_task
    mov edi, name_idle
    xor edx, edx
    call make_task
    mov ecx, 1                        ; task 1: worker a
    mov esi, worker
    mov edi, name_worker_a
    mov edx, HEAP
    call make_task
    mov ecx, 2                        ; task 2: worker b
    mov esi, worker
    mov edi, name_worker_b
    mov edx, HEAP + 0x1000
    call make_task
    mov ecx, 3                        ; task 3: the shell
    mov esi, shell
    mov edi, name_shell
    xor edx, edx
    call make_task
    ret

; make_task: ECX = index, ESI = entry point, EDI = name, EDX = initial EBX (a worker's heap page).
; Index 0 runs in ring 0; the others in ring 3 on their own user stack.
make_task:
    push eax
    push ebx
    push ebp
    mov ebp, ecx
    imul ebp, ebp, TASK_SIZE
    add ebp, tasks
    mov eax, ecx
    shl eax, 12
    add eax, KSTACKS + 0x1000         ; top of its ring-0 stack
    mov [ebp + T_KTOP], eax
    mov [ebp + T_NAME], edi
    mov dword [ebp + T_STATE], ST_READY
    test ecx, ecx
    jz .ring0
    ; Ring 3: SS, ESP, EFLAGS (IF set, IOPL 0), CS, EIP, as the CPU pushes them.
    mov ebx, ecx
    shl ebx, 12
    add ebx, USTACKS + 0x1000
    sub eax, 4
    mov dword [eax], UDATA
    sub eax, 4
    mov [eax], ebx
    sub eax, 4
    mov dword [eax], 0x202
    sub eax, 4
    mov dword [eax], UCODE
    mov ebx, UDATA
    jmp .common
.ring0:
    ; Ring 0: no stack switch, so only EFLAGS, CS, EIP.
    sub eax, 4
    mov dword [eax], 0x202
    sub eax, 4
    mov dword [eax], KCODE
    mov ebx, KDATA
.common:
    sub eax, 4
    mov [eax], esi                    ; EIP
    sub eax, 8                        ; error code and vector: 0
    mov dword [eax], 0
    mov dword [eax + 4], 0
    sub eax, 32                       ; PUSHAD's eight registers: zero but EBX
    push edi
    push ecx
    mov edi, eax
    mov ecx, 8
    push eax
    xor eax, eax
    rep stosd
    pop eax
    pop ecx
    pop edi
    mov [eax + F_EBX - 8], edx
    sub eax, 8                        ; DS and ES
    mov [eax + F_DS], ebx
    mov [eax + F_ES], ebx
    mov [ebp + T_FRAME], eax
    pop ebp
    pop ebx
    pop eax
    ret

; The idle task: the only place the CPU waits. HLT sleeps until the next interrupt; a hypervisor
; sees it and can skip ahead to the next timer event instead of spinning.
idle_task:
    sti
    hlt
    jmp idle_task

; ---- Interrupt entry and exit ------------------------------------------------------------------

; One stub per vector: push a zero where the CPU pushed no error code, then the vector number,
; so every trap frame has the same layout.
isr0:   push 0
        push 0
        jmp isr_common
isr1:   push 0
        push 1
        jmp isr_common
isr2:   push 0
        push 2
        jmp isr_common
isr3:   push 0
        push 3
        jmp isr_common
isr4:   push 0
        push 4
        jmp isr_common
isr5:   push 0
        push 5
        jmp isr_common
isr6:   push 0
        push 6
        jmp isr_common
isr7:   push 0
        push 7
        jmp isr_common
isr8:   push 8                        ; double fault: the CPU pushed an error code (zero)
        jmp isr_common
isr9:   push 0
        push 9
        jmp isr_common
isr10:  push 10                       ; invalid TSS
        jmp isr_common
isr11:  push 11                       ; segment not present
        jmp isr_common
isr12:  push 12                       ; stack fault
        jmp isr_common
isr13:  push 13                       ; general protection
        jmp isr_common
isr14:  push 14                       ; page fault
        jmp isr_common
isr15:  push 0
        push 15
        jmp isr_common
isr16:  push 0
        push 16
        jmp isr_common
isr17:  push 17                       ; alignment check
        jmp isr_common
isr18:  push 0
        push 18
        jmp isr_common
isr19:  push 0
        push 19
        jmp isr_common
isr_reserved:                         ; vectors 20-31
        push 0
        push 31
        jmp isr_common
irq0:   push 0
        push 32
        jmp isr_common
irq1:   push 0
        push 33
        jmp isr_common
irq2:   push 0
        push 34
        jmp isr_common
irq3:   push 0
        push 35
        jmp isr_common
irq4:   push 0
        push 36
        jmp isr_common
irq5:   push 0
        push 37
        jmp isr_common
irq6:   push 0
        push 38
        jmp isr_common
irq7:   push 0
        push 39
        jmp isr_common
irq8:   push 0
        push 40
        jmp isr_common
irq9:   push 0
        push 41
        jmp isr_common
irq10:  push 0
        push 42
        jmp isr_common
irq11:  push 0
        push 43
        jmp isr_common
irq12:  push 0
        push 44
        jmp isr_common
irq13:  push 0
        push 45
        jmp isr_common
irq14:  push 0
        push 46
        jmp isr_common
irq15:  push 0
        push 47
        jmp isr_common
isr_syscall:
        push 0
        push 0x80
        jmp isr_common

isr_common:
    pushad                            ; EAX ECX EDX EBX ESP EBP ESI EDI
    push ds
    push es
    mov ax, KDATA                     ; user segments may be loaded: use the kernel's
    mov ds, ax
    mov es, ax
    push esp                          ; the trap frame
    call dispatch                     ; returns the frame to resume: maybe another task's
    add esp, 4
    mov esp, eax
isr_return:
    pop es
    pop ds
    popad
    add esp, 8                        ; vector and error code
    iretd                             ; back to the interrupted ring, stack and flags

; dispatch(frame): routes by vector; returns the trap frame to resume in EAX.
dispatch:
    mov ebx, [esp + 4]
    mov eax, [ebx + F_VECTOR]
    cmp eax, 0x80
    je syscall
    cmp eax, 32
    jb exception
    cmp eax, 32
    je irq_timer
    cmp eax, 36
    je irq_serial
    ; Anything else is spurious (IRQ 7 or 15 without a request): acknowledge nothing.
    mov eax, ebx
    ret

; ---- Hardware interrupts ----------------------------------------------------------------------

irq_timer:
    inc dword [ticks]
    mov eax, [current]
    imul eax, eax, TASK_SIZE
    inc dword [tasks + eax + T_TICKS]
    ; Wake sleepers whose time has come.
    xor ecx, ecx
.wake:
    mov eax, ecx
    imul eax, eax, TASK_SIZE
    cmp dword [tasks + eax + T_STATE], ST_SLEEPING
    jne .next
    mov edx, [tasks + eax + T_WAKE]
    cmp edx, [ticks]
    ja .next
    mov dword [tasks + eax + T_STATE], ST_READY
.next:
    inc ecx
    cmp ecx, MAX_TASKS
    jb .wake
    mov al, 0x20                      ; end of interrupt to the PIC
    out 0x20, al
    jmp schedule                      ; preempt: the next ready task runs

irq_serial:
    ; Move every received byte into the input ring and wake whoever waits for input.
.more:
    mov dx, COM1 + 5
    in al, dx
    test al, 1                        ; LSR bit 0: data ready
    jz .drained
    mov dx, COM1
    in al, dx
    mov ecx, [input_head]
    mov edx, ecx
    inc edx
    and edx, 255
    cmp edx, [input_tail]
    je .more                          ; ring full: drop the byte
    mov [input_ring + ecx], al
    mov [input_head], edx
    jmp .more
.drained:
    mov al, 0x20
    out 0x20, al
    ; Wake the task waiting for input and switch to it now: whoever types should not wait for
    ; the running task's time slice to end.
    xor ecx, ecx
.wake:
    mov eax, ecx
    imul eax, eax, TASK_SIZE
    cmp dword [tasks + eax + T_STATE], ST_WAITING
    je .found
    inc ecx
    cmp ecx, MAX_TASKS
    jb .wake
    mov eax, ebx                      ; nobody waits: carry on
    ret
.found:
    mov dword [tasks + eax + T_STATE], ST_READY
    jmp switch_to

; schedule: EBX = the current task's trap frame. Saves it, picks the next ready task round
; robin (the idle task only when nobody else is ready), points TSS.esp0 at that task's ring-0
; stack and returns its frame in EAX.
schedule:
    mov ecx, [current]
    mov edx, MAX_TASKS - 1
.pick:
    inc ecx
    cmp ecx, MAX_TASKS
    jb .in_range
    mov ecx, 1
.in_range:
    mov eax, ecx
    imul eax, eax, TASK_SIZE
    cmp dword [tasks + eax + T_STATE], ST_READY
    je switch_to
    dec edx
    jnz .pick
    xor ecx, ecx                      ; nobody ready: idle

; switch_to: EBX = the current task's trap frame, ECX = the task to run next.
switch_to:
    mov eax, [current]
    imul eax, eax, TASK_SIZE
    mov [tasks + eax + T_FRAME], ebx
    mov eax, ecx
    imul eax, eax, TASK_SIZE
    mov [current], ecx
    mov edx, [tasks + eax + T_KTOP]
    mov [tss + 4], edx
    mov eax, [tasks + eax + T_FRAME]
    ret

; ---- CPU exceptions ---------------------------------------------------------------------------

exception:
    cmp eax, 14
    je page_fault
    cmp eax, 13
    je general_protection
    jmp fatal_fault

; A page fault: demand paging for the heap, anything else is fatal.
page_fault:
    mov edx, cr2                      ; the address that faulted
    test dword [ebx + F_ERROR], 1     ; bit 0 set: a protection violation, not a missing page
    jnz fatal_fault
    cmp edx, HEAP
    jb fatal_fault
    cmp edx, HEAP_END
    jae fatal_fault
    mov eax, [next_frame]             ; take a frame from the pool and zero it
    cmp eax, FRAME_POOL_END
    jae fatal_fault
    add dword [next_frame], 0x1000
    push edi
    push ecx
    mov edi, eax
    mov ecx, 1024
    push eax
    xor eax, eax
    rep stosd
    pop eax
    pop ecx
    pop edi
    mov ecx, edx
    sub ecx, HEAP
    shr ecx, 12
    or eax, PTE_P + PTE_W + PTE_U
    mov [PT_HEAP + ecx * 4], eax      ; map it: the faulting instruction runs again and succeeds
    invlpg [edx]
    mov eax, [current]
    imul eax, eax, TASK_SIZE
    inc dword [tasks + eax + T_FAULTS]
    mov esi, msg_pf
    call kputs
    mov esi, [tasks + eax + T_NAME]
    call kputs
    mov esi, msg_pf2
    call kputs
    mov eax, edx
    call kput_hex
    mov esi, msg_pf3
    call kputs
    mov eax, ebx
    ret

; A #GP. From ring 3 it is the teaching case: a privileged instruction (CLI, STI, HLT, IN, OUT)
; with CPL 3 > IOPL 0. The kernel reports it and skips the instruction, as a trap-and-emulate
; hypervisor would after emulating it.
general_protection:
    test dword [ebx + F_CS], 3
    jz fatal_fault                    ; a #GP in the kernel is a bug
    mov esi, [ebx + F_EIP]
    movzx eax, byte [esi]
    mov ecx, 1                        ; every instruction recognised here is one byte long
    mov edi, name_cli
    cmp al, 0xFA
    je .known
    mov edi, name_sti
    cmp al, 0xFB
    je .known
    mov edi, name_hlt
    cmp al, 0xF4
    je .known
    mov edi, name_io
    cmp al, 0xEC
    jb fatal_fault
    cmp al, 0xEF
    ja fatal_fault
.known:
    mov esi, msg_gp
    call kputs
    mov eax, [current]
    imul eax, eax, TASK_SIZE
    mov esi, [tasks + eax + T_NAME]
    call kputs
    mov esi, msg_gp2
    call kputs
    mov eax, [ebx + F_EIP]
    call kput_hex
    mov esi, msg_gp3
    call kputs
    mov esi, edi
    call kputs
    mov esi, msg_gp4
    call kputs
    add [ebx + F_EIP], ecx
    mov eax, ebx
    ret

; Any other exception: a ring-3 task is stopped, a ring-0 one stops the machine.
fatal_fault:
    mov esi, msg_fault
    call kputs
    mov eax, [ebx + F_VECTOR]
    call kput_dec
    mov esi, msg_fault_eip
    call kputs
    mov eax, [ebx + F_EIP]
    call kput_hex
    mov esi, msg_fault_err
    call kputs
    mov eax, [ebx + F_ERROR]
    call kput_hex
    mov esi, msg_fault_cr2
    call kputs
    mov eax, cr2
    call kput_hex
    mov esi, msg_nl
    call kputs
    test dword [ebx + F_CS], 3
    jz .kernel
    mov eax, [current]
    imul eax, eax, TASK_SIZE
    mov dword [tasks + eax + T_STATE], ST_DEAD
    mov esi, msg_killed
    call kputs
    mov esi, [tasks + eax + T_NAME]
    call kputs
    mov esi, msg_nl
    call kputs
    jmp schedule
.kernel:
    mov esi, msg_kernel_fault
panic:
    call kputs
.stop:
    cli
    hlt
    jmp .stop

; ---- System calls -----------------------------------------------------------------------------

; INT 0x80 with EAX = call number; arguments in EBX, ECX; the result goes back in EAX.
syscall:
    mov eax, [ebx + F_EAX]
    cmp eax, SYS_WRITE
    je sys_write
    cmp eax, SYS_READ
    je sys_read
    cmp eax, SYS_SLEEP
    je sys_sleep
    cmp eax, SYS_YIELD
    je schedule
    cmp eax, SYS_TASKS
    je sys_tasks
    cmp eax, SYS_HALT
    je sys_halt
    cmp eax, SYS_PROGRESS
    je sys_progress
    cmp eax, SYS_RINGS
    je sys_rings
    mov dword [ebx + F_EAX], -1       ; unknown call
    mov eax, ebx
    ret

; write(buf = EBX, len = ECX): the buffer must lie in user memory, or the call fails. A kernel
; that trusted the pointer would let ring 3 make it print (or overwrite) kernel memory.
sys_write:
    mov esi, [ebx + F_EBX]
    mov ecx, [ebx + F_ECX]
    cmp esi, user_start
    jb .fault
    cmp ecx, user_end - user_start
    ja .fault
    mov eax, esi
    add eax, ecx
    cmp eax, user_end
    ja .fault
    mov [ebx + F_EAX], ecx
.loop:
    test ecx, ecx
    jz .done
    lodsb
    call kputc
    dec ecx
    jmp .loop
.done:
    mov eax, ebx
    ret
.fault:
    mov dword [ebx + F_EAX], -14      ; EFAULT
    mov eax, ebx
    ret

; read(): the next input byte. With none, the task sleeps until input arrives, and its EIP is
; moved back over the INT 0x80 so the call runs again when it wakes.
sys_read:
    mov ecx, [input_tail]
    cmp ecx, [input_head]
    je .block
    movzx eax, byte [input_ring + ecx]
    inc ecx
    and ecx, 255
    mov [input_tail], ecx
    mov [ebx + F_EAX], eax
    mov eax, ebx
    ret
.block:
    sub dword [ebx + F_EIP], 2        ; INT 0x80 is two bytes: CD 80
    mov eax, [current]
    imul eax, eax, TASK_SIZE
    mov dword [tasks + eax + T_STATE], ST_WAITING
    jmp schedule

sys_sleep:
    mov eax, [current]
    imul eax, eax, TASK_SIZE
    mov edx, [ticks]
    add edx, [ebx + F_EBX]
    mov [tasks + eax + T_WAKE], edx
    mov dword [tasks + eax + T_STATE], ST_SLEEPING
    jmp schedule

sys_progress:
    mov eax, [current]
    imul eax, eax, TASK_SIZE
    mov edx, [ebx + F_EBX]
    mov [tasks + eax + T_PROGRESS], edx
    mov eax, ebx
    ret

; tasks(): the task table.
sys_tasks:
    mov esi, msg_tasks_head
    call kputs
    xor ecx, ecx
.row:
    mov ebp, ecx
    imul ebp, ebp, TASK_SIZE
    add ebp, tasks
    mov esi, msg_sp2
    call kputs
    mov eax, ecx
    call kput_dec
    mov esi, msg_sp2
    call kputs
    mov esi, [ebp + T_NAME]
    call kput_padded
    mov eax, [ebp + T_STATE]
    mov esi, [state_names + eax * 4]
    cmp ecx, [current]
    jne .state
    mov esi, name_running
.state:
    call kput_padded
    mov eax, ecx                      ; ring: the task's saved CS, or 3 for the caller
    call task_ring
    call kput_dec
    mov esi, msg_sp4
    call kputs
    mov eax, [ebp + T_TICKS]
    call kput_dec_padded
    mov eax, [ebp + T_FAULTS]
    call kput_dec_padded
    mov eax, [ebp + T_PROGRESS]
    call kput_dec
    mov esi, msg_nl
    call kputs
    inc ecx
    cmp ecx, MAX_TASKS
    jb .row
    mov eax, ebx
    ret

; rings(): where each task runs and what it may do there.
sys_rings:
    xor ecx, ecx
.row:
    mov ebp, ecx
    imul ebp, ebp, TASK_SIZE
    add ebp, tasks
    mov esi, msg_sp2
    call kputs
    mov esi, [ebp + T_NAME]
    call kput_padded
    mov esi, msg_ring
    call kputs
    mov eax, ecx
    call task_ring
    push eax
    call kput_dec
    pop eax
    mov esi, msg_ring0_may
    test eax, eax
    jz .say
    mov esi, msg_ring3_may
.say:
    call kputs
    inc ecx
    cmp ecx, MAX_TASKS
    jb .row
    mov eax, ebx
    ret

; task_ring: EAX = task index -> EAX = the ring (CPL) it runs in, from its saved CS.
task_ring:
    cmp eax, [current]
    jne .saved
    mov eax, [ebx + F_CS]             ; the caller: its frame is the one being handled
    and eax, 3
    ret
.saved:
    imul eax, eax, TASK_SIZE
    mov eax, [tasks + eax + T_FRAME]
    mov eax, [eax + F_CS]
    and eax, 3
    ret

sys_halt:
    mov esi, msg_halt
    call kputs
    cli                               ; HLT with interrupts off: the machine stops for good
    hlt
    jmp sys_halt

; ---- Console: COM1 and the VGA text screen ----------------------------------------------------

; kputc: AL = character, to the serial port and the screen. '\n' becomes CR LF on the wire.
kputc:
    pushfd                            ; a critical section: the screen cursor is shared state
    cli
    push eax
    push edx
    cmp al, 10
    jne .char
    mov al, 13
    call serial_out
    mov al, 10
.char:
    call serial_out
    call vga_out
    pop edx
    pop eax
    popfd                             ; restores IF as it was (in ring 0 POPF may change IF)
    ret

serial_out:
    push eax
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20                     ; LSR bit 5: the transmit register is empty
    jz .wait
    pop eax
    mov dx, COM1
    out dx, al
    ret

vga_out:
    push ebx
    push ecx
    push edi
    cmp al, 13
    je .done
    mov ebx, [vga_pos]
    cmp al, 10
    jne .put
    mov eax, ebx                      ; newline: to the start of the next row
    xor edx, edx
    mov ecx, 80
    div ecx
    inc eax
    imul ebx, eax, 80
    jmp .scroll
.put:
    mov ah, 0x07                      ; light grey on black
    mov [0xB8000 + ebx * 2], ax
    inc ebx
.scroll:
    cmp ebx, 80 * 25
    jb .store
    push esi                          ; scroll one row up and clear the last
    mov esi, 0xB8000 + 160
    mov edi, 0xB8000
    mov ecx, 80 * 24 / 2
    rep movsd
    mov eax, 0x07200720
    mov ecx, 80 / 2
    rep stosd
    pop esi
    mov ebx, 80 * 24
.store:
    mov [vga_pos], ebx
.done:
    pop edi
    pop ecx
    pop ebx
    ret

; kputs: ESI = zero-terminated string.
kputs:
    push eax
    push esi
.loop:
    lodsb
    test al, al
    jz .done
    call kputc
    jmp .loop
.done:
    pop esi
    pop eax
    ret

; kput_padded: ESI = string, printed in a 10-column field.
kput_padded:
    push eax
    push ecx
    push esi
    mov ecx, 10
.loop:
    lodsb
    test al, al
    jz .pad
    call kputc
    dec ecx
    jnz .loop
    jmp .done
.pad:
    mov al, ' '
    call kputc
    dec ecx
    jnz .pad
.done:
    pop esi
    pop ecx
    pop eax
    ret

; kput_hex: EAX as 0x and eight hex digits.
kput_hex:
    push eax
    push ecx
    push edx
    mov edx, eax
    mov al, '0'
    call kputc
    mov al, 'x'
    call kputc
    mov ecx, 8
.digit:
    rol edx, 4
    mov eax, edx
    and eax, 15
    mov al, [hex_digits + eax]
    call kputc
    loop .digit
    pop edx
    pop ecx
    pop eax
    ret

; kput_dec: EAX in decimal.
kput_dec:
    push eax
    push ecx
    push edx
    push edi
    mov edi, scratch + 15
    mov byte [edi], 0
    mov ecx, 10
.digit:
    xor edx, edx
    div ecx
    add dl, '0'
    dec edi
    mov [edi], dl
    test eax, eax
    jnz .digit
    push esi
    mov esi, edi
    call kputs
    pop esi
    pop edi
    pop edx
    pop ecx
    pop eax
    ret

; kput_dec_padded: EAX in decimal in an 8-column field.
kput_dec_padded:
    push eax
    push ecx
    push edx
    push esi
    mov ecx, 8
    mov esi, eax
.count:
    dec ecx
    xor edx, edx
    push ecx
    mov ecx, 10
    div ecx
    pop ecx
    test eax, eax
    jnz .count
    mov eax, esi
    call kput_dec
    mov al, ' '
.pad:
    call kputc
    dec ecx
    jg .pad
    pop esi
    pop edx
    pop ecx
    pop eax
    ret

; ---- Kernel data ------------------------------------------------------------------------------

hex_digits:      db '0123456789abcdef'
msg_banner:      db 10, 'ringzero demo kernel', 10, 0
msg_mem:         db '  multiboot: ', 0
msg_mib:         db ' MiB above 1 MiB', 10, 0
msg_cmdline:     db '  command line: "', 0
msg_quote_nl:    db '"', 10, 0
msg_no_multiboot: db 'not started by a Multiboot loader', 10, 0
msg_gdt:         db '  gdt: ring 0 and ring 3 code and data, a TSS; sgdt says the table is at ', 0
msg_gdt2:        db 10, 0
msg_idt:         db '  idt: exceptions, IRQ 0-15 at 0x20, int 0x80 open to ring 3; at ', 0
msg_paging:      db '  paging: 0-8 MiB identity mapped, user pages ', 0
msg_dash:        db '-', 0
msg_paging2:     db ', heap at 0x00800000 on demand', 10, 0
msg_pit:         db '  pit: 100 Hz; com1: 115200 baud, receive interrupts', 10, 0
msg_start:       db '  tasks: idle (ring 0), worker-a, worker-b, shell (ring 3)', 10, 10, 0
msg_nl:          db 10, 0
msg_pf:          db '[page fault] ', 0
msg_pf2:         db ' touched ', 0
msg_pf3:         db ': mapped a zeroed page, resuming', 10, 0
msg_gp:          db '[#GP] ', 0
msg_gp2:         db ' in ring 3 at ', 0
msg_gp3:         db ' executed ', 0
msg_gp4:         db ', privileged (CPL 3 > IOPL 0); the kernel skipped it', 10, 0
msg_fault:       db '[fault] vector ', 0
msg_fault_eip:   db ' at eip=', 0
msg_fault_err:   db ' error=', 0
msg_fault_cr2:   db ' cr2=', 0
msg_killed:      db '[fault] stopped task ', 0
msg_kernel_fault: db 'kernel fault: halting', 10, 0
msg_halt:        db 'System halted.', 10, 0
msg_tasks_head:  db '  id name      state     ring  ticks   faults  progress', 10, 0
msg_sp2:         db '  ', 0
msg_sp4:         db '     ', 0
msg_ring:        db 'ring ', 0
msg_ring0_may:   db ': may run every instruction: CLI/STI, HLT, IN/OUT, LGDT, MOV CR3', 10, 0
msg_ring3_may:   db ': no CLI/STI/HLT/IN/OUT (#GP); memory only through user pages', 10, 0
name_idle:       db 'idle', 0
name_worker_a:   db 'worker-a', 0
name_worker_b:   db 'worker-b', 0
name_shell:      db 'shell', 0
name_running:    db 'running', 0
name_ready:      db 'ready', 0
name_sleeping:   db 'sleeping', 0
name_waiting:    db 'input', 0
name_dead:       db 'stopped', 0
name_cli:        db 'CLI', 0
name_sti:        db 'STI', 0
name_hlt:        db 'HLT', 0
name_io:         db 'IN/OUT', 0
state_names:     dd name_dead, name_ready, name_sleeping, name_waiting, name_dead

align 4
isr_table:
    dd isr0, isr1, isr2, isr3, isr4, isr5, isr6, isr7, isr8, isr9, isr10, isr11, isr12
    dd isr13, isr14, isr15, isr16, isr17, isr18, isr19
    times 12 dd isr_reserved
    dd irq0, irq1, irq2, irq3, irq4, irq5, irq6, irq7
    dd irq8, irq9, irq10, irq11, irq12, irq13, irq14, irq15

align 8
gdt:
    dd 0, 0                           ; the null descriptor
    dd 0x0000FFFF, 0x00CF9A00         ; 0x08 kernel code: base 0, 4 GiB, DPL 0, execute/read
    dd 0x0000FFFF, 0x00CF9200         ; 0x10 kernel data: DPL 0, read/write
    dd 0x0000FFFF, 0x00CFFA00         ; 0x18 user code: DPL 3
    dd 0x0000FFFF, 0x00CFF200         ; 0x20 user data: DPL 3
gdt_tss:
    dd 0x00000067, 0x00008900         ; 0x28 TSS: 104 bytes, available 32-bit TSS (base filled in)
gdt_end:

gdt_descriptor:
    dw gdt_end - gdt - 1
    dd gdt
idt_descriptor:
    dw 256 * 8 - 1
    dd idt

align 4
boot_magic:      dd 0
boot_info:       dd 0
current:         dd 0
ticks:           dd 0
next_frame:      dd FRAME_POOL
vga_pos:         dd 0
input_head:      dd 0
input_tail:      dd 0
scratch:         times 16 db 0
tasks:           times MAX_TASKS * TASK_SIZE db 0
tss:             times 104 db 0
input_ring:      times 256 db 0
align 8
idt:             times 256 * 8 db 0

; ==== Ring 3 ===================================================================================
; Everything below runs in ring 3, on pages marked user. It reaches the kernel only through
; INT 0x80.

align 4096
user_start:

; A worker: finds primes by trial division, keeps its count in a heap page (the first write
; there page-faults and the kernel maps the page), reports progress and sleeps a little.
; EBX = its heap page.
worker:
    mov dword [ebx], 0                ; primes found: the first touch of the heap page
    mov dword [ebx + 4], 2            ; the next candidate
.batch:
    mov ebp, 20000                    ; candidates per batch
.candidate:
    mov esi, [ebx + 4]
    mov ecx, 2
.divide:
    mov eax, ecx
    mul ecx
    cmp eax, esi
    ja .prime                         ; no divisor up to the square root
    mov eax, esi
    xor edx, edx
    div ecx
    test edx, edx
    jz .composite
    inc ecx
    jmp .divide
.prime:
    inc dword [ebx]
.composite:
    inc dword [ebx + 4]
    dec ebp
    jnz .candidate
    mov eax, SYS_PROGRESS
    push ebx
    mov ebx, [ebx]
    int 0x80
    pop ebx
    mov eax, SYS_SLEEP
    push ebx
    mov ebx, 20                       ; 200 ms
    int 0x80
    pop ebx
    jmp .batch

; The shell.
shell:
    mov esi, sh_welcome
    call print
.prompt:
    mov esi, sh_prompt
    call print
    call read_line
    mov esi, line
    cmp byte [esi], 0
    je .prompt
    mov edi, cmd_help
    call streq
    je .help
    mov edi, cmd_rings
    call streq
    je .rings
    mov edi, cmd_tasks
    call streq
    je .tasks
    mov edi, cmd_fault
    call streq
    je .fault
    mov edi, cmd_halt
    call streq
    je .halt
    mov esi, sh_unknown
    call print
    mov esi, line
    call print
    mov esi, sh_unknown2
    call print
    jmp .prompt

.help:
    mov esi, sh_help
    call print
    jmp .prompt

.tasks:
    mov eax, SYS_TASKS
    int 0x80
    jmp .prompt

.rings:
    ; Reading CS: its low two bits are the ring this code runs in. No trap: any ring may look.
    mov esi, sh_rings_cs
    call print
    mov ax, cs
    movzx eax, ax
    call print_hex
    mov esi, sh_rings_cpl
    call print
    mov ax, cs
    and eax, 3
    add al, '0'
    call print_char
    mov esi, sh_nl
    call print
    ; SGDT: stores the GDT's address and size. Not privileged, so ring 3 learns where the
    ; kernel keeps its table: under a hypervisor it would see the host's table, not the
    ; guest's, unless the hypervisor rewrites this instruction (binary translation).
    sgdt [sgdt_buf]
    mov esi, sh_rings_sgdt
    call print
    mov eax, [sgdt_buf + 2]
    call print_hex
    mov esi, sh_rings_sgdt2
    call print
    ; POPF: clearing IF from ring 3 with IOPL 0 is silently ignored: no trap, no effect. A
    ; guest kernel deprivileged to ring 3 would believe interrupts are off when they are not.
    pushfd
    pop eax
    and eax, ~0x200
    push eax
    popfd                             ; asks for IF = 0
    pushfd
    pop eax
    mov esi, sh_rings_popf
    call print
    shr eax, 9
    and eax, 1
    add al, '0'
    call print_char
    mov esi, sh_rings_popf2
    call print
    mov eax, SYS_RINGS
    int 0x80
    jmp .prompt

.fault:
    mov esi, sh_fault
    call print
    cli                               ; privileged: #GP, handled by the kernel
    mov esi, sh_fault2
    call print
    jmp .prompt

.halt:
    mov eax, SYS_HALT
    int 0x80
    jmp .halt

; read_line: reads into `line` with echo, backspace and a 63-character limit; ends at CR or LF.
read_line:
    xor edi, edi
.next:
    mov eax, SYS_READ
    int 0x80
    cmp al, 10
    jne .not_lf
    cmp byte [last_was_cr], 0
    mov byte [last_was_cr], 0
    jne .next                         ; the LF of a CR LF pair: the line already ended
    jmp .finish
.not_lf:
    mov byte [last_was_cr], 0
    cmp al, 13
    jne .char
    mov byte [last_was_cr], 1
    jmp .finish
.char:
    cmp al, 8
    je .back
    cmp al, 127
    je .back
    cmp al, ' '
    jb .next                          ; other control characters are ignored
    cmp edi, 63
    jae .next
    mov [line + edi], al
    inc edi
    call print_char
    jmp .next
.back:
    test edi, edi
    jz .next
    dec edi
    mov esi, sh_erase
    call print
    jmp .next
.finish:
    mov byte [line + edi], 0
    mov esi, sh_nl
    call print
    ret

; streq: ESI, EDI = strings; ZF set when equal.
streq:
    push esi
    push edi
.loop:
    mov al, [esi]
    cmp al, [edi]
    jne .done
    inc esi
    inc edi
    test al, al
    jnz .loop
.done:
    pop edi
    pop esi
    ret

; print: ESI = zero-terminated string, through SYS_WRITE.
print:
    push eax
    push ebx
    push ecx
    mov ebx, esi
    xor ecx, ecx
.len:
    cmp byte [esi + ecx], 0
    je .write
    inc ecx
    jmp .len
.write:
    mov eax, SYS_WRITE
    int 0x80
    pop ecx
    pop ebx
    pop eax
    ret

; print_char: AL.
print_char:
    push esi
    mov [char_buf], al
    mov esi, char_buf
    call print
    pop esi
    ret

; print_hex: EAX as 0x and eight hex digits.
print_hex:
    push eax
    push ecx
    push edx
    mov edx, eax
    mov ecx, 8
    mov esi, sh_0x
    call print
.digit:
    rol edx, 4
    mov eax, edx
    and eax, 15
    mov al, [sh_hex + eax]
    call print_char
    loop .digit
    pop edx
    pop ecx
    pop eax
    ret

; ---- Shell data (user pages) ------------------------------------------------------------------

sh_welcome:      db 'Type help for the commands.', 10, 0
sh_prompt:       db 'demo> ', 0
sh_nl:           db 10, 0
sh_erase:        db 8, ' ', 8, 0
sh_0x:           db '0x', 0
sh_hex:          db '0123456789abcdef'
sh_unknown:      db 'unknown command: ', 0
sh_unknown2:     db ' (try help)', 10, 0
sh_help:
    db '  help   this list', 10
    db '  rings  where each task runs and what ring 3 can see without trapping', 10
    db '  tasks  the task table: state, ring, timer ticks, page faults, progress', 10
    db '  fault  run CLI in ring 3: a #GP the kernel reports and skips', 10
    db '  halt   stop the machine', 10, 0
sh_rings_cs:     db '  this shell: CS = ', 0
sh_rings_cpl:    db ', so it runs in ring ', 0
sh_rings_sgdt:   db '  sgdt from ring 3 (no trap): the GDT is at ', 0
sh_rings_sgdt2:  db 10, 0
sh_rings_popf:   db '  popf clearing IF from ring 3 (no trap): IF is still ', 0
sh_rings_popf2:  db ', the change was silently dropped', 10, 0
sh_fault:        db '  executing CLI in ring 3...', 10, 0
sh_fault2:       db '  back in the shell: the kernel caught the #GP and skipped the instruction', 10, 0
cmd_help:        db 'help', 0
cmd_rings:       db 'rings', 0
cmd_tasks:       db 'tasks', 0
cmd_fault:       db 'fault', 0
cmd_halt:        db 'halt', 0
last_was_cr:     db 0
char_buf:        db 0, 0                ; one character and its terminator
align 4
sgdt_buf:        times 8 db 0
line:            times 64 db 0

align 4096
user_end:
