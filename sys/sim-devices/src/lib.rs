//! Simulated board peripherals for the hosted platform: SPI, GPIO, FPGA configuration engines
